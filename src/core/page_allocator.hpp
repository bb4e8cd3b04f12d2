// Memory mapped from the system page by page (mmap), and unmapped when freed: for large buffers
// that live for one call (oneDNN's weight reorders' scratchpads, tens of MB for a Winograd
// layout). Neither the caching allocator, which would keep them, nor malloc suits those: glibc
// raises its mmap threshold to the size of the largest mapped block freed (up to 32 MB), and the
// buffers below it that follow come from its heap and stay resident.
#pragma once

#include "strata/storage.hpp"

namespace strata {

Allocator& page_allocator();

}  // namespace strata
