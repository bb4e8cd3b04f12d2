#include "core/caching_allocator.hpp"

#include <cstdlib>

#include "strata/error.hpp"

namespace strata {

std::size_t CachingAllocator::bin_size(std::size_t nbytes) {
  // Small buffers to the alignment, large ones to whole pages.
  const std::size_t quantum = nbytes >= (1u << 16) ? 4096 : kStorageAlignment;
  const std::size_t rounded = (nbytes + quantum - 1) / quantum * quantum;
  return rounded == 0 ? kStorageAlignment : rounded;
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  const std::size_t size = bin_size(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      void* ptr = it->second.back();
      it->second.pop_back();
      cached_ -= size;
      return ptr;
    }
  }
  void* ptr = std::aligned_alloc(kStorageAlignment, size);
  if (ptr == nullptr) {  // give the cache back to the system and try once more
    release();
    ptr = std::aligned_alloc(kStorageAlignment, size);
  }
  STRATA_CHECK(ptr != nullptr, "out of memory: could not allocate ", nbytes, " bytes on cpu");
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, std::size_t nbytes) {
  const std::size_t size = bin_size(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cached_ + size <= limit_) {
      free_[size].push_back(ptr);
      cached_ += size;
      return;
    }
  }
  std::free(ptr);
}

void CachingAllocator::release() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, buffers] : free_)
    for (void* ptr : buffers) std::free(ptr);
  free_.clear();
  cached_ = 0;
}

std::size_t CachingAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

}  // namespace strata
