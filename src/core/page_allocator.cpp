#include "core/page_allocator.hpp"

#include <sys/mman.h>

#include "strata/error.hpp"

namespace strata {
namespace {

class PageAllocator final : public Allocator {
 public:
  void* allocate(std::size_t nbytes) override {
    void* p = ::mmap(nullptr, nbytes == 0 ? 1 : nbytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    STRATA_CHECK(p != MAP_FAILED, "out of memory: could not map ", nbytes, " bytes on cpu");
    return p;  // page-aligned, so kStorageAlignment-aligned
  }
  void deallocate(void* ptr, std::size_t nbytes) override { ::munmap(ptr, nbytes == 0 ? 1 : nbytes); }
};

}  // namespace

Allocator& page_allocator() {
  static PageAllocator* allocator = new PageAllocator;  // never destroyed: storages may outlive statics
  return *allocator;
}

}  // namespace strata
