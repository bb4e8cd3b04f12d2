// Reference matmul and linear kernels on top of ref::gemm.
#include "ops/linear.hpp"

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"
#include "kernels/ref/gemm.hpp"

namespace strata {
namespace {

void bmm(const Tensor& c, const Tensor& a, const Tensor& b, int64_t batch, int64_t m, int64_t n, int64_t k, bool ta,
         bool tb) {
  visit_floating(c.dtype(), "matmul", [&]<class T>() {
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    T* pc = c.mutable_data<T>();
    for (int64_t i = 0; i < batch; ++i)
      ref::gemm<T>(ta, tb, m, n, k, T(1), pa + i * m * k, ta ? m : k, pb + i * k * n, tb ? k : n, T(0),
                   pc + i * m * n, n);
  });
}

// x (N, in), weight (out, in): y = x weight^T + bias.
Tensor linear_forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t rows = x.shape()[0], in = x.shape()[1], out = weight.shape()[0];
  Tensor y = empty({rows, out}, x.dtype(), x.device());
  const Tensor xc = x.contiguous(), wc = weight.contiguous();
  visit_floating(x.dtype(), "linear", [&]<class T>() {
    ref::gemm<T>(false, true, rows, out, in, T(1), xc.data<T>(), in, wc.data<T>(), in, T(0), y.mutable_data<T>(), out);
    if (bias.defined()) {
      const Tensor bc = bias.contiguous();
      const T* pb = bc.data<T>();
      T* py = y.mutable_data<T>();
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t o = 0; o < out; ++o) py[r * out + o] += pb[o];
    }
  });
  return y;
}

// grad_x (N, in) = grad_y (N, out) weight (out, in).
Tensor linear_backward_data(const Tensor& grad_y, const Tensor& weight) {
  const int64_t rows = grad_y.shape()[0], out = weight.shape()[0], in = weight.shape()[1];
  Tensor gx = empty({rows, in}, grad_y.dtype(), grad_y.device());
  const Tensor gyc = grad_y.contiguous(), wc = weight.contiguous();
  visit_floating(gx.dtype(), "linear", [&]<class T>() {
    ref::gemm<T>(false, false, rows, in, out, T(1), gyc.data<T>(), out, wc.data<T>(), in, T(0), gx.mutable_data<T>(), in);
  });
  return gx;
}

// grad_w (out, in) = grad_y^T (out, N) x (N, in).
Tensor linear_backward_weight(const Tensor& grad_y, const Tensor& x) {
  const int64_t rows = grad_y.shape()[0], out = grad_y.shape()[1], in = x.shape()[1];
  Tensor gw = empty({out, in}, grad_y.dtype(), grad_y.device());
  const Tensor gyc = grad_y.contiguous(), xc = x.contiguous();
  visit_floating(gw.dtype(), "linear", [&]<class T>() {
    ref::gemm<T>(true, false, out, in, rows, T(1), gyc.data<T>(), out, xc.data<T>(), in, T(0), gw.mutable_data<T>(), in);
  });
  return gw;
}

// grad_b (out) = sum over rows of grad_y.
Tensor linear_backward_bias(const Tensor& grad_y) {
  const int64_t rows = grad_y.shape()[0], out = grad_y.shape()[1];
  Tensor gb = empty({out}, grad_y.dtype(), grad_y.device());
  const Tensor gyc = grad_y.contiguous();
  visit_floating(gb.dtype(), "linear", [&]<class T>() {
    const T* g = gyc.data<T>();
    T* pb = gb.mutable_data<T>();
    for (int64_t o = 0; o < out; ++o) {
      double acc = 0.0;
      for (int64_t r = 0; r < rows; ++r) acc += g[r * out + o];
      pb[o] = static_cast<T>(acc);
    }
  });
  return gb;
}

const MatmulKernels kRefMatmul{bmm};
STRATA_REGISTER_KERNELS(MatmulKernels, Backend::Ref, kRefMatmul);

const LinearKernels kRefLinear{[](const Tensor&, const Tensor&) { return true; }, linear_forward,
                               linear_backward_data, linear_backward_weight, linear_backward_bias};
STRATA_REGISTER_KERNELS(LinearKernels, Backend::Ref, kRefLinear);

}  // namespace
}  // namespace strata
