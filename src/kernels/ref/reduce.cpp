// Reference row reductions over a dense (rows, n) matrix. Float sums accumulate in double.
#include "ops/reduce.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"

namespace strata {
namespace {

void sum_rows(const Tensor& out, const Tensor& x, int64_t rows, int64_t n) {
  visit_floating(x.dtype(), "sum", [&]<class T>() {
    const T* px = x.data<T>();
    T* po = out.mutable_data<T>();
#pragma omp parallel for schedule(static) if (rows * n > 65536)
    for (int64_t r = 0; r < rows; ++r) {
      double acc = 0.0;
      const T* row = px + r * n;
      for (int64_t j = 0; j < n; ++j) acc += row[j];
      po[r] = static_cast<T>(acc);
    }
  });
}

void max_rows(const Tensor& values, const Tensor& indices, const Tensor& x, int64_t rows, int64_t n) {
  visit_floating(x.dtype(), "max", [&]<class T>() {
    const T* px = x.data<T>();
    T* pv = values.defined() ? values.mutable_data<T>() : nullptr;
    int64_t* pi = indices.mutable_data<int64_t>();
#pragma omp parallel for schedule(static) if (rows * n > 65536)
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = px + r * n;
      int64_t best = 0;
      for (int64_t j = 1; j < n; ++j)
        if (row[j] > row[best] || (row[j] != row[j] && row[best] == row[best])) best = j;  // NaN wins, as PyTorch
      pi[r] = best;
      if (pv) pv[r] = row[best];
    }
  });
}

void max_rows_backward(const Tensor& grad_x, const Tensor& grad_values, const Tensor& indices, int64_t rows,
                       int64_t n) {
  visit_floating(grad_x.dtype(), "max", [&]<class T>() {
    T* pg = grad_x.mutable_data<T>();
    const T* pv = grad_values.data<T>();
    const int64_t* pi = indices.data<int64_t>();
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t j = 0; j < n; ++j) pg[r * n + j] = T(0);
      pg[r * n + pi[r]] = pv[r];
    }
  });
}

const ReduceKernels kRefReduce{sum_rows, max_rows, max_rows_backward};
STRATA_REGISTER_KERNELS(ReduceKernels, Backend::Ref, kRefReduce);

}  // namespace
}  // namespace strata
