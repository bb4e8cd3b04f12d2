#include "core/caching_allocator.hpp"

#include <algorithm>
#include <cstdlib>

#include <sys/mman.h>

#include "strata/error.hpp"

namespace strata {

std::size_t CachingAllocator::bin_size(std::size_t nbytes) {
  // Small buffers to the alignment, large ones to whole pages.
  const std::size_t quantum = nbytes >= (1u << 16) ? 4096 : kStorageAlignment;
  const std::size_t rounded = (nbytes + quantum - 1) / quantum * quantum;
  return rounded == 0 ? kStorageAlignment : rounded;
}

void* CachingAllocator::system_allocate(std::size_t size) {
  if (size < kHugePagesFrom) return std::aligned_alloc(kStorageAlignment, size);
  // Fresh pages fault in on first touch: 2 MiB pages fault 512 times less often than 4 KiB ones
  // (a 411 MB buffer: 40-70 ms to touch instead of about 270 ms, measured here). The advice is
  // a no-op where transparent huge pages are off.
  constexpr std::size_t kHugePage = std::size_t{2} << 20;
  void* ptr = std::aligned_alloc(kHugePage, (size + kHugePage - 1) / kHugePage * kHugePage);
  if (ptr != nullptr) madvise(ptr, size, MADV_HUGEPAGE);
  return ptr;
}

void CachingAllocator::evict_locked(std::size_t nbytes) {
  std::size_t freed = 0;
  while (freed < nbytes && !free_.empty()) {
    // The smallest buffer that covers what is left, else the largest (and go on).
    const auto covering = free_.lower_bound(nbytes - freed);
    const auto victim = covering != free_.end() ? covering : std::prev(free_.end());
    std::free(victim->second);
    freed += victim->first;
    cached_ -= victim->first;
    free_.erase(victim);
  }
}

void CachingAllocator::record_in_use_locked(void* ptr, std::size_t buffer, std::size_t request) {
  in_use_.emplace(ptr, InUse{buffer, request});
  in_use_bytes_ += buffer;
  requested_bytes_ += request;
  peak_requested_ = std::max(peak_requested_, requested_bytes_);
}

void* CachingAllocator::allocate(std::size_t nbytes) {
  const std::size_t size = bin_size(nbytes);
  {
    std::lock_guard<std::mutex> lock(mutex_);
    const auto fit = free_.lower_bound(size);  // the smallest cached buffer of at least `size`
    bool take = fit != free_.end() && fit->first <= size + size / 4;
    if (!take && size >= kEvictAbove) {
      const std::size_t held = in_use_bytes_ + cached_ + size;
      const std::size_t allowed = std::max({peak_requested_, in_use_bytes_ + size, kHeldFreely});
      if (held > allowed) {
        // Over the peak: a cached buffer of up to twice the size serves it rather than fresh
        // pages (a larger one would leave its own request, later, without a buffer).
        take = fit != free_.end() && fit->first <= 2 * size;
        if (!take) evict_locked(held - allowed);
      }
    }
    if (take) {
      void* ptr = fit->second;
      cached_ -= fit->first;
      record_in_use_locked(ptr, fit->first, size);
      free_.erase(fit);
      return ptr;
    }
  }
  void* ptr = system_allocate(size);
  if (ptr == nullptr) {  // give the cache back to the system and try once more
    release();
    ptr = system_allocate(size);
  }
  STRATA_CHECK(ptr != nullptr, "out of memory: could not allocate ", nbytes, " bytes on cpu");
  std::lock_guard<std::mutex> lock(mutex_);
  record_in_use_locked(ptr, size, size);
  return ptr;
}

void CachingAllocator::deallocate(void* ptr, std::size_t /*nbytes: the buffer's own size is recorded*/) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = in_use_.find(ptr);
  if (it == in_use_.end()) {  // not one of ours: cannot happen through Storage; do not cache it
    std::free(ptr);
    return;
  }
  const std::size_t size = it->second.buffer;
  requested_bytes_ -= it->second.request;
  in_use_.erase(it);
  in_use_bytes_ -= size;
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
