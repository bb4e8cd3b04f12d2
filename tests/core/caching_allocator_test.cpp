#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

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

// A cached buffer serves a smaller request when at most a quarter of it would be spare, and
// comes back to the cache at its own size.
TEST(CachingAllocator, BestFitServesNearbySizes) {
  CachingAllocator cache(1 << 24);
  void* a = cache.allocate(100000);  // 25 pages: 102400 bytes
  cache.deallocate(a, 100000);
  void* b = cache.allocate(90000);   // 22 pages: 90112 * 1.25 >= 102400
  EXPECT_EQ(b, a);
  cache.deallocate(b, 90000);
  EXPECT_EQ(cache.cached_bytes(), 102400u);
  void* c = cache.allocate(70000);   // 18 pages: 73728 * 1.25 < 102400, a new buffer
  EXPECT_NE(c, a);
  EXPECT_EQ(cache.cached_bytes(), 102400u);
  cache.deallocate(c, 70000);
}

// A large request that the cache cannot serve first gives cached buffers back to the system, so
// the allocator's total does not grow by buffers nobody can use; small requests evict nothing.
TEST(CachingAllocator, LargeMissesEvictCachedBuffers) {
  constexpr std::size_t MiB = std::size_t{1} << 20;
  CachingAllocator cache(std::size_t{1} << 31);
  void* a = cache.allocate(4 * MiB);
  cache.deallocate(a, 4 * MiB);
  EXPECT_EQ(cache.cached_bytes(), 4 * MiB);
  void* small = cache.allocate(1000);
  EXPECT_EQ(cache.cached_bytes(), 4 * MiB) << "a small miss keeps the cache";
  // Over the live peak (4 MiB) and over what is held freely: the 4 MiB buffer goes.
  const std::size_t size = CachingAllocator::kHeldFreely + MiB;
  void* big = cache.allocate(size);
  EXPECT_EQ(cache.cached_bytes(), 0u) << "the 4 MiB buffer cannot serve the request and was freed";
  cache.deallocate(big, size);
  cache.deallocate(small, 1000);
  EXPECT_EQ(cache.cached_bytes(), size + 1024);
}

// Below kHeldFreely a large miss keeps what is cached, over the live peak or not (small models:
// LeNet's iteration would otherwise evict and fault in ~17 MB of buffers each time).
TEST(CachingAllocator, SmallFootprintsKeepTheirCache) {
  constexpr std::size_t MiB = std::size_t{1} << 20;
  CachingAllocator cache(std::size_t{1} << 30);
  void* a = cache.allocate(4 * MiB);
  cache.deallocate(a, 4 * MiB);
  void* big = cache.allocate(16 * MiB);
  EXPECT_EQ(cache.cached_bytes(), 4 * MiB);
  cache.deallocate(big, 16 * MiB);
  EXPECT_EQ(cache.cached_bytes(), 20 * MiB);
}

// Training repeats one iteration's allocations. After the first iteration every request is served
// from the cache (no fresh pages to fault in), even one that no buffer fits within a quarter
// (12 units after the 16-unit buffer is freed), and the allocator never holds more than the most
// bytes ever in use at once (28 units: units of kHeldFreely / 8, so that the peak is above what is
// held freely).
TEST(CachingAllocator, RepeatedIterationsAreServedFromTheCache) {
  constexpr std::size_t unit = CachingAllocator::kHeldFreely / 8;
  CachingAllocator cache(std::size_t{1} << 31);
  std::vector<void*> first;
  for (int iteration = 0; iteration < 3; ++iteration) {
    void* a = cache.allocate(8 * unit);
    void* b = cache.allocate(16 * unit);
    void* c = cache.allocate(4 * unit);
    cache.deallocate(b, 16 * unit);
    void* d = cache.allocate(12 * unit);
    EXPECT_LE(cache.cached_bytes() + 8 * unit + 4 * unit + 16 * unit, 28 * unit)
        << "held beyond the 28-unit peak of live bytes";
    const std::vector<void*> buffers = {a, b, c, d};
    if (iteration == 0) first = buffers;
    else EXPECT_EQ(buffers, first) << "iteration " << iteration << " got fresh buffers";
    cache.deallocate(a, 8 * unit);
    cache.deallocate(c, 4 * unit);
    cache.deallocate(d, 12 * unit);
  }
  EXPECT_EQ(cache.cached_bytes(), 28 * unit);
}

// Buffers from kHugePagesFrom bytes on start on a 2 MiB boundary (where transparent huge pages
// can back them), are writable to the last byte and are cached like the others.
TEST(CachingAllocator, LargeBuffersStartOnHugePageBoundaries) {
  CachingAllocator cache(std::size_t{1} << 30);
  const std::size_t size = CachingAllocator::kHugePagesFrom + 12345;
  auto* bytes = static_cast<unsigned char*>(cache.allocate(size));
  ASSERT_NE(bytes, nullptr);
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(bytes) % (std::size_t{2} << 20), 0u);
  std::memset(bytes, 0xab, size);
  EXPECT_EQ(bytes[size - 1], 0xab);
  cache.deallocate(bytes, size);
  EXPECT_EQ(cache.allocate(size), bytes);
  cache.deallocate(bytes, size);
}
