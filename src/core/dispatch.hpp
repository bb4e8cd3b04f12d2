// Kernel registry: each op family declares a table of kernel functions (e.g. ConvKernels in
// ops/conv.hpp); every backend fills one table per family and registers it here at static
// initialisation. Ops pick a table with select_kernels(), so a new backend adds kernel files and
// touches no op.
#pragma once

#include <array>

#include "strata/backend.hpp"
#include "strata/dtype.hpp"
#include "strata/error.hpp"

namespace strata {

template <class Table>
class KernelRegistry {
 public:
  static void add(Backend backend, const Table& table) { slots()[static_cast<int>(backend)] = &table; }
  static const Table* get(Backend backend) { return slots()[static_cast<int>(backend)]; }

 private:
  static std::array<const Table*, kNumBackends>& slots() {
    static std::array<const Table*, kNumBackends> tables{};
    return tables;
  }
};

// The kernels for tensors on `device`: on CPU the preferred backend's table when it is
// registered and `supports(table)` accepts the call, else the reference table; on CUDA the CUDA
// table or an error naming the op.
template <class Table, class Supports>
const Table& select_kernels(const char* op, Device device, Supports&& supports) {
  if (device.is_cuda()) {
    const Table* table = KernelRegistry<Table>::get(Backend::Cuda);
    STRATA_CHECK(table != nullptr && supports(*table), op,
                 ": no CUDA kernel for this call; this build has no CUDA backend for it");
    return *table;
  }
  if (cpu_backend() != Backend::Ref) {
    const Table* table = KernelRegistry<Table>::get(cpu_backend());
    if (table != nullptr && supports(*table)) return *table;
  }
  const Table* table = KernelRegistry<Table>::get(Backend::Ref);
  STRATA_CHECK(table != nullptr, op, ": internal error: no reference kernels registered");
  return *table;
}

template <class Table>
const Table& select_kernels(const char* op, Device device) {
  return select_kernels<Table>(op, device, [](const Table&) { return true; });
}

}  // namespace strata

#define STRATA_CONCAT_INNER(a, b) a##b
#define STRATA_CONCAT(a, b) STRATA_CONCAT_INNER(a, b)
// At namespace scope in a kernel file: STRATA_REGISTER_KERNELS(ConvKernels, Backend::Ref, kTable);
#define STRATA_REGISTER_KERNELS(TableType, backend, table)                      \
  static const bool STRATA_CONCAT(strata_registered_, __LINE__) =               \
      (::strata::KernelRegistry<TableType>::add(backend, table), true)
