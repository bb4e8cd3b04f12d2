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
// - a large request (kEvictAbove or more) that no cached buffer serves may make the allocator
//   hold (in use + cached + the request) up to the most bytes ever requested at once (the
//   live peak: a buffer larger than its request counts at the request's size), and always up
//   to kHeldFreely (256 MiB: a small model keeps every buffer it ever used; at its own peak the
//   best-fit buffers' spare room made LeNet evict and fault in ~17 MB on every step, and at 128
//   MiB resnet18's batch-128 inference, whose distinct buffers add up to about 220 MB around a
//   live peak of 99 MB, unmapped and faulted in ~22 MB and its 75 MB stem output every step:
//   5.6k page faults a step, none at 256 MiB, and 8-14% more images/s; the cost is resnet18
//   training's peak, 1081 -> 1123-1132 MB, buffers cached in the first iteration); beyond that
//   it takes the smallest cached buffer of up to twice its size, and only when there is none
//   does it return cached buffers to the system (the smallest that covers the excess, else the
//   largest first). So a large model's allocator peak stays at the peak of live tensors rather
//   than the sum of every size ever freed, and an iteration that repeats the previous one's
//   allocations finds its buffers cached instead of faulting in fresh pages. Small requests
//   never evict (they would throw away large buffers for a few bytes);
// - buffers of kHugePagesFrom bytes or more come in transparent huge pages (madvise), so that
//   the misses that remain (backward passes whose gradients grow while the live bytes stay near
//   the peak) fault in 2 MiB at a time;
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
  static constexpr std::size_t kHugePagesFrom = std::size_t{32} << 20;  // buffers in 2 MiB pages
  static constexpr std::size_t kHeldFreely = std::size_t{256} << 20;    // below this, nothing is evicted

  explicit CachingAllocator(std::size_t limit_bytes) : limit_(limit_bytes) {}
  ~CachingAllocator() override { release(); }

  void* allocate(std::size_t nbytes) override;
  void deallocate(void* ptr, std::size_t nbytes) override;

  void release();                     // returns every cached buffer to the system
  std::size_t cached_bytes() const;

 private:
  static std::size_t bin_size(std::size_t nbytes);
  static void* system_allocate(std::size_t size);  // aligned memory from the system, or null
  void evict_locked(std::size_t nbytes);  // frees cached buffers of at least nbytes in all
  void record_in_use_locked(void* ptr, std::size_t buffer, std::size_t request);

  std::size_t limit_;
  mutable std::mutex mutex_;
  std::size_t cached_ = 0;
  struct InUse {
    std::size_t buffer, request;  // a buffer may be larger than the (rounded) request it serves
  };
  std::size_t in_use_bytes_ = 0;     // buffers handed out
  std::size_t requested_bytes_ = 0;  // what their requests asked for
  std::size_t peak_requested_ = 0;   // the most bytes ever asked for at once: the live peak
  std::multimap<std::size_t, void*> free_;        // buffer size -> cached buffer
  std::unordered_map<void*, InUse> in_use_;
};

}  // namespace strata
