#include <gtest/gtest.h>

#include "core/caching_allocator.hpp"

using namespace strata;

TEST(CachingAllocator, ReusesFreedBuffersOfTheSameSize) {
  CachingAllocator cache(1 << 20);
  void* a = cache.allocate(1000);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % kStorageAlignment, 0u);
  cache.deallocate(a, 1000);
  EXPECT_EQ(cache.cached_bytes(), 1024u);  // rounded to the 64-byte alignment
  void* b = cache.allocate(1010);          // same bin
  EXPECT_EQ(a, b);
  EXPECT_EQ(cache.cached_bytes(), 0u);
  void* c = cache.allocate(5000);  // another bin: a new buffer
  EXPECT_NE(c, b);
  cache.deallocate(b, 1010);
  cache.deallocate(c, 5000);
  cache.release();
  EXPECT_EQ(cache.cached_bytes(), 0u);
}

TEST(CachingAllocator, KeepsNoMoreThanItsLimit) {
  CachingAllocator cache(100 * 1024);
  std::vector<void*> buffers;
  for (int i = 0; i < 4; ++i) buffers.push_back(cache.allocate(64 * 1024));
  for (void* p : buffers) cache.deallocate(p, 64 * 1024);
  EXPECT_EQ(cache.cached_bytes(), 64u * 1024);  // the second one would pass the limit
}

TEST(CachingAllocator, LargeBuffersArePageRounded) {
  CachingAllocator cache(1 << 24);
  void* a = cache.allocate((1 << 16) + 1);
  cache.deallocate(a, (1 << 16) + 1);
  EXPECT_EQ(cache.cached_bytes(), (1u << 16) + 4096);
  EXPECT_EQ(cache.allocate((1 << 16) + 4000), a);
  cache.deallocate(a, (1 << 16) + 4000);
}
