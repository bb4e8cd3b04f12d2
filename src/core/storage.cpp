#include "strata/storage.hpp"

#include <cstdlib>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <mutex>
#include <new>

#include <unistd.h>

#include <string>

#include "core/caching_allocator.hpp"
#include "strata/error.hpp"

namespace strata {
namespace {

class AlignedCpuAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    const std::size_t rounded = (nbytes + kStorageAlignment - 1) / kStorageAlignment * kStorageAlignment;
    void* ptr = std::aligned_alloc(kStorageAlignment, rounded == 0 ? kStorageAlignment : rounded);
    STRATA_CHECK(ptr != nullptr, "out of memory: could not allocate ", nbytes, " bytes on cpu");
    return ptr;
  }
  void deallocate(void* ptr, std::size_t) override { std::free(ptr); }
};

// The default: cache freed buffers (see core/caching_allocator.hpp), up to a quarter of the
// machine's memory. Sanitizer builds and STRATA_CACHING_ALLOCATOR=0 use plain aligned malloc, so
// that use-after-free stays detectable.
AlignedCpuAllocator& plain_allocator() {
  static AlignedCpuAllocator plain;
  return plain;
}

Allocator& default_cpu_allocator() {
#ifdef STRATA_SANITIZE
  return plain_allocator();
#else
  static CachingAllocator* caching = [] {
    const char* env = std::getenv("STRATA_CACHING_ALLOCATOR");
    if (env != nullptr && std::string(env) == "0") return static_cast<CachingAllocator*>(nullptr);
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    const std::size_t limit = pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page / 4 : (1ull << 31);
    return new CachingAllocator(limit);  // never destroyed: storages may outlive static destruction
  }();
  if (caching != nullptr) return *caching;
  return plain_allocator();
#endif
}

Allocator* installed_cpu_allocator = nullptr;
thread_local Allocator* thread_allocator = nullptr;

}  // namespace

Allocator& cpu_allocator() {
  if (thread_allocator != nullptr) return *thread_allocator;
  return installed_cpu_allocator ? *installed_cpu_allocator : default_cpu_allocator();
}

void set_thread_cpu_allocator(Allocator* allocator) { thread_allocator = allocator; }
Allocator* thread_cpu_allocator() { return thread_allocator; }

Allocator& system_cpu_allocator() { return plain_allocator(); }

void release_cached_cpu_memory() {
  if (auto* caching = dynamic_cast<CachingAllocator*>(&default_cpu_allocator())) caching->release();
#ifdef __GLIBC__
  // glibc keeps freed blocks below its mmap threshold (which grows to 32 MB as large blocks are
  // freed) in its heap: give the free pages back too.
  malloc_trim(0);
#endif
}

void set_cpu_allocator(Allocator* allocator) { installed_cpu_allocator = allocator; }

namespace {
std::atomic<uint64_t> next_storage_id{1};

void* allocate(Allocator& allocator, std::size_t nbytes, Device device) {
  void* data = nullptr;
  try {
    data = allocator.allocate(nbytes);
  } catch (const std::bad_alloc&) {  // an installed allocator that reports failure the standard way
    fail("out of memory: could not allocate ", nbytes, " bytes on ", device.str());
  }
  STRATA_CHECK(data != nullptr, "storage: the cpu allocator returned null for ", nbytes, " bytes");
  return data;
}
}  // namespace

uint64_t Storage::ids_issued() { return next_storage_id.load(std::memory_order_relaxed) - 1; }

Storage::Storage(std::size_t nbytes, Device device, Allocator* allocator) : nbytes_(nbytes), device_(device) {
  id_ = next_storage_id.fetch_add(1, std::memory_order_relaxed);
  STRATA_CHECK(device.is_cpu(), "storage: device ", device.str(), " is not available in this build");
  allocator_ = allocator != nullptr ? allocator : &cpu_allocator();
  data_ = allocate(*allocator_, nbytes, device);
}

Storage::~Storage() {
  if (void* d = data_.load(std::memory_order_acquire)) allocator_->deallocate(d, nbytes_);
}

struct Storage::Remake {
  std::mutex mutex;
  std::function<void(void*)> fill;
};

void Storage::set_remake(std::function<void(void*)> remake) {
  remake_ = std::make_unique<Remake>();
  remake_->fill = std::move(remake);
}

void Storage::release_contents() {
  if (remake_ == nullptr || data_.load(std::memory_order_acquire) == nullptr) return;
  std::lock_guard<std::mutex> lock(remake_->mutex);
  if (void* d = data_.exchange(nullptr, std::memory_order_acq_rel)) allocator_->deallocate(d, nbytes_);
}

void* Storage::remade() const {
  std::lock_guard<std::mutex> lock(remake_->mutex);
  void* d = data_.load(std::memory_order_acquire);
  if (d != nullptr) return d;
  d = allocate(*allocator_, nbytes_, device_);
  try {
    remake_->fill(d);
  } catch (...) {
    allocator_->deallocate(d, nbytes_);
    throw;
  }
  data_.store(d, std::memory_order_release);
  return d;
}

}  // namespace strata
