// A CPU allocator that keeps freed buffers for reuse instead of returning them to the system.
//
// Training repeats the same allocations every iteration (activations, gradients, workspaces of
// identical sizes), and fresh large allocations from the system are mmap'ed pages that fault on
// first touch, so reusing them saves both the allocator's and the kernel's work. Buffers are
// binned by exact (rounded) size; the cache holds at most `limit` bytes, beyond which freed
// buffers go back to the system, and everything cached is released before an allocation is
// allowed to fail.
#pragma once

#include <cstddef>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "strata/storage.hpp"

namespace strata {

class CachingAllocator final : public Allocator {
 public:
  explicit CachingAllocator(std::size_t limit_bytes) : limit_(limit_bytes) {}
  ~CachingAllocator() override { release(); }

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;

  void release();                     // returns every cached buffer to the system
  std::size_t cached_bytes() const;

 private:
  static std::size_t bin_size(std::size_t nbytes);

  std::size_t limit_;
  mutable std::mutex mutex_;
  std::size_t cached_ = 0;
  std::unordered_map<std::size_t, std::vector<void*>> free_;  // bin size -> buffers
};

}  // namespace strata
