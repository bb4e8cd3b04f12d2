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

void CachingAllocator::evict_locked(std::size_t nbytes) {
  std::size_t freed = 0;
  while (freed < nbytes && !free_.empty()) {
    const auto largest = std::prev(free_.end());
    std::free(largest->second);
    freed += largest->first;
    cached_ -= largest->first;
    free_.erase(largest);
  }
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  const std::size_t size = bin_size(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto fit = free_.lower_bound(size);
    if (fit != free_.end() && fit->first <= size + size / 4) {
      void* ptr = fit->second;
      cached_ -= fit->first;
      in_use_.emplace(ptr, fit->first);
      free_.erase(fit);
      return ptr;
    }
    if (size >= kEvictAbove) evict_locked(size);
  }
  void* ptr = std::aligned_alloc(kStorageAlignment, size);
  if (ptr == nullptr) {  // give the cache back to the system and try once more
    release();
    ptr = std::aligned_alloc(kStorageAlignment, size);
  }
  STRATA_CHECK(ptr != nullptr, "out of memory: could not allocate ", nbytes, " bytes on cpu");
  std::lock_guard<std::mutex> lock(mutex_);
  in_use_.emplace(ptr, size);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, std::size_t /*nbytes: the buffer's own size is recorded*/) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = in_use_.find(ptr);
  if (it == in_use_.end()) {  // not one of ours: cannot happen through Storage; do not cache it
    std::free(ptr);
    return;
  }
  const std::size_t size = it->second;
  in_use_.erase(it);
  if (cached_ + size <= limit_) {
    free_.emplace(size, ptr);
    cached_ += size;
    return;
  }
  std::free(ptr);
}

void CachingAllocator::release() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto& [size, ptr] : free_) std::free(ptr);
  free_.clear();
  cached_ = 0;
}

std::size_t CachingAllocator::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return cached_;
}

}  // namespace strata
