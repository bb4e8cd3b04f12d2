// Kernel registry: each op family declares a table of kernel functions (e.g. ConvKernels in
// ops/conv.hpp); every implementation fills one table and registers it here at static
// initialisation, for a backend and with a rank. Ops pick a table with select_kernels() or
// find_kernels(), so a new implementation adds kernel files and touches no op.
//
// One backend may register several implementations of an op family, ranked: the fast CPU backend
// has Strata's own kernels for few-channel layers (src/kernels/cpu/, rank 0) above oneDNN's
// (src/kernels/dnnl/, rank 1). A call runs on the first of them, in rank order, whose
// `supports(geometry)` accepts it; the reference kernels (Backend::Ref) are the fallback.
#pragma once

#include <algorithm>
#include <array>
#include <vector>

#include "strata/backend.hpp"
#include "strata/dtype.hpp"
#include "strata/error.hpp"

namespace strata {

template <class Table>
class KernelRegistry {
 public:
  struct Entry {
    int rank;
    const Table* table;
  };

  static void add(Backend backend, int rank, const Table& table) {
    std::vector<Entry>& list = slots()[static_cast<int>(backend)];
    list.push_back({rank, &table});
    std::stable_sort(list.begin(), list.end(), [](const Entry& a, const Entry& b) { return a.rank < b.rank; });
  }
  // The implementations of `backend`, best rank first.
  static const std::vector<Entry>& entries(Backend backend) { return slots()[static_cast<int>(backend)]; }

 private:
  static std::array<std::vector<Entry>, kNumBackends>& slots() {
    static std::array<std::vector<Entry>, kNumBackends> tables{};
    return tables;
  }
};

// The first table of `backend`, in rank order, that `supports` accepts; null when none does.
template <class Table, class Supports>
const Table* first_supporting(Backend backend, Supports&& supports) {
  for (const auto& entry : KernelRegistry<Table>::entries(backend))
    if (supports(*entry.table)) return entry.table;
  return nullptr;
}

// The kernels for tensors on `device` that accept the call, or null when none does: on CPU the
// preferred backend's first supporting table, else the reference backend's; on CUDA the CUDA
// backend's. An op whose call carries optional work (a fused epilogue) falls back to running
// that work as separate ops when this is null.
template <class Table, class Supports>
const Table* find_kernels(Device device, Supports&& supports) {
  if (device.is_cuda()) return first_supporting<Table>(Backend::Cuda, supports);
  if (cpu_backend() != Backend::Ref)
    if (const Table* table = first_supporting<Table>(cpu_backend(), supports)) return table;
  return first_supporting<Table>(Backend::Ref, supports);
}

// find_kernels, for calls some kernel must take: an error naming the op when none does.
template <class Table, class Supports>
const Table& select_kernels(const char* op, Device device, Supports&& supports) {
  const Table* table = find_kernels<Table>(device, supports);
  if (table == nullptr && device.is_cuda())
    fail(op, ": no CUDA kernel for this call; this build has no CUDA backend for it");
  STRATA_CHECK(table != nullptr, op, ": internal error: no reference kernel takes this call");
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
// or, for one of several implementations of a backend, with its rank (lower runs first):
// STRATA_REGISTER_RANKED_KERNELS(ConvKernels, Backend::Dnnl, 0, kSmallConv);
#define STRATA_REGISTER_RANKED_KERNELS(TableType, backend, rank, table)        \
  static const bool STRATA_CONCAT(strata_registered_, __LINE__) =               \
      (::strata::KernelRegistry<TableType>::add(backend, rank, table), true)
#define STRATA_REGISTER_KERNELS(TableType, backend, table) STRATA_REGISTER_RANKED_KERNELS(TableType, backend, 1, table)
