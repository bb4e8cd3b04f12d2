// Storage: a reference-counted, 64-byte-aligned buffer on one device. Tensors are views over it.
#pragma once
#pragma GCC visibility push(default)

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

#include "strata/dtype.hpp"

namespace strata {

inline constexpr std::size_t kStorageAlignment = 64;

// Where storage memory comes from. The CPU default caches freed buffers for reuse across training
// iterations (STRATA_CACHING_ALLOCATOR=0 turns that off); another allocator can be installed.
class Allocator {
 public:
  virtual ~Allocator() = default;
  // Returns kStorageAlignment-aligned memory or throws strata::Error (never returns null for n > 0).
  virtual void* allocate(std::size_t nbytes) = 0;
  virtual void deallocate(void* ptr, std::size_t nbytes) = 0;
};

Allocator& cpu_allocator();
// Aligned memory straight from the system, never cached: for long-lived buffers (the weights
// inference derives once and keeps) that would otherwise count in the caching allocator's working
// set and make it evict what every iteration reuses.
Allocator& system_cpu_allocator();
// Installs `allocator` for CPU storage (nullptr restores the default). The allocator must outlive
// every storage it allocated.
void set_cpu_allocator(Allocator* allocator);
// Installs `allocator` for CPU storage made on the calling thread only, over set_cpu_allocator's
// (nullptr removes it): how a compiled model serves its own allocations from its planned arena
// while OpenMP's worker threads keep theirs.
void set_thread_cpu_allocator(Allocator* allocator);
Allocator* thread_cpu_allocator();  // the calling thread's, or null
// Returns the buffers the default CPU allocator keeps for reuse, and the C library's free heap
// pages, to the system.
void release_cached_cpu_memory();

class Storage {
 public:
  // Memory from `allocator`, or cpu_allocator() when null.
  Storage(std::size_t nbytes, Device device, Allocator* allocator = nullptr);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;

  // The bytes (made again first if release_contents gave them back).
  void* data() const {
    void* d = data_.load(std::memory_order_acquire);
    return d != nullptr || remake_ == nullptr ? d : remade();
  }
  std::size_t nbytes() const { return nbytes_; }

  // Contents that can be computed again from elsewhere (a batch norm folded into a convolution's
  // weights, which the convolution's kernel keeps in a layout of its own): after set_remake,
  // release_contents() gives the bytes back to the allocator and the next data() allocates them
  // again and fills them with `remake` (under a lock; id and version stay). Only for storages read
  // by one caller at a time: a pointer from data() is invalid once the contents are released.
  // release_contents() does nothing to a storage without `remake`.
  void set_remake(std::function<void(void*)> remake);
  void release_contents();
  bool contents_released() const { return data_.load(std::memory_order_acquire) == nullptr; }
  Device device() const { return device_; }

  // Identity and write count, for caches of values derived from the contents (a convolution's
  // weights reordered for oneDNN, a batch norm folded into them): id() is unique per storage for
  // the process's lifetime (addresses are reused, ids are not); version() changes whenever a
  // tensor hands out its memory for writing (Tensor::data / raw_data), before the write.
  uint64_t id() const { return id_; }
  // The largest id given out so far: storages made later have larger ids.
  static uint64_t ids_issued();
  uint64_t version() const { return version_.load(std::memory_order_acquire); }
  void bump_version() { version_.fetch_add(1, std::memory_order_acq_rel); }

 private:
  struct Remake;
  void* remade() const;

  uint64_t id_;
  std::atomic<uint64_t> version_{0};
  mutable std::atomic<void*> data_ = nullptr;
  std::unique_ptr<Remake> remake_;
  std::size_t nbytes_ = 0;
  Device device_;
  Allocator* allocator_ = nullptr;
};

}  // namespace strata

#pragma GCC visibility pop
