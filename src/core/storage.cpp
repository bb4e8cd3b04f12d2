#include "strata/storage.hpp"

#include <cstdlib>
#include <new>

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

AlignedCpuAllocator default_cpu_allocator;
Allocator* installed_cpu_allocator = nullptr;

}  // namespace

Allocator& cpu_allocator() {
  return installed_cpu_allocator ? *installed_cpu_allocator : default_cpu_allocator;
}

void set_cpu_allocator(Allocator* allocator) { installed_cpu_allocator = allocator; }

Storage::Storage(std::size_t nbytes, Device device) : nbytes_(nbytes), device_(device) {
  STRATA_CHECK(device.is_cpu(), "storage: device ", device.str(), " is not available in this build");
  allocator_ = &cpu_allocator();
  try {
    data_ = allocator_->allocate(nbytes);
  } catch (const std::bad_alloc&) {  // an installed allocator that reports failure the standard way
    fail("out of memory: could not allocate ", nbytes, " bytes on ", device.str());
  }
  STRATA_CHECK(data_ != nullptr, "storage: the cpu allocator returned null for ", nbytes, " bytes");
}

Storage::~Storage() { allocator_->deallocate(data_, nbytes_); }

}  // namespace strata
