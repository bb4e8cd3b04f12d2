// A CPU allocator that keeps freed buffers for reuse instead of returning them to the system.
//
// Training repeats the same allocations every iteration (activations, gradients, workspaces of
// identical sizes), and fresh large allocations from the system are mmap'ed pages that fault on
// first touch, so reusing them saves both the allocator's and the kernel's work.
//
// Policy:
// - sizes are rounded (to the alignment, large ones to whole pages);
// - a request takes the smallest cached buffer that fits it with at most a quarter to spare
//   (best fit), so a buffer serves requests of nearby sizes too;
// - a large request (kEvictAbove or more) that no cached buffer serves first returns cached
//   buffers (largest first) to the system, as many bytes as it asks for, so what the allocator
//   holds (in use + cached) grows only when the bytes in use do: the peak stays near the peak of
//   live tensors rather than the sum of every size ever freed. Small requests never evict (they
//   would throw away large buffers for a few bytes);
// - the cache holds at most `limit` bytes, beyond which freed buffers go back to the system, and
//   everything cached is released before an allocation is allowed to fail.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <unordered_map>

#include "strata/storage.hpp"

namespace strata {

class CachingAllocator final : public Allocator {
 public:
  static constexpr std::size_t kEvictAbove = std::size_t{1} << 20;

  explicit CachingAllocator(std::size_t limit_bytes) : limit_(limit_bytes) {}
  ~CachingAllocator() override { release(); }

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;

  void release();                     // returns every cached buffer to the system
  std::size_t cached_bytes() const;

 private:
  static std::size_t bin_size(std::size_t nbytes);
  void evict_locked(std::size_t nbytes);  // frees cached buffers, largest first, of at least nbytes

  std::size_t limit_;
  mutable std::mutex mutex_;
  std::size_t cached_ = 0;
  std::multimap<std::size_t, void*> free_;        // buffer size -> cached buffer
  std::unordered_map<void*, std::size_t> in_use_;  // buffer -> its size (it may exceed the request)
};

}  // namespace strata
