// CPU optimizer kernels: one fused, branch-free pass per parameter over dense buffers (param,
// grad, state), written so the compiler vectorises it (omp simd) and split across threads for
// large parameters. These loops are both the specification and the fast CPU path: the update is
// memory-bound, and each element is read and written exactly once.
#include <cmath>

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"
#include "optim/kernels.hpp"

namespace strata::optim {
namespace {

// Below this many elements a pass is not worth waking the thread pool.
constexpr int64_t kParallelMin = 1 << 16;

// kMomentum: keep a momentum buffer; kNesterov: look ahead along it.
template <class T, bool kMomentum, bool kNesterov>
void sgd_loop(const SGDStep& s, T* __restrict p, const T* __restrict g, T* __restrict buf, int64_t n) {
  const T lr = static_cast<T>(s.lr), wd = static_cast<T>(s.weight_decay);
  const T momentum = static_cast<T>(s.momentum), buffer_decay = static_cast<T>(s.buffer_decay),
          grad_scale = static_cast<T>(s.grad_scale);
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    T d = g[i] + wd * p[i];
    if constexpr (kMomentum) {
      const T b = buffer_decay * buf[i] + grad_scale * d;
      buf[i] = b;
      d = kNesterov ? d + momentum * b : b;
    }
    p[i] -= lr * d;
  }
}

template <class T, bool kAmsgrad>
void adam_loop(const AdamStep& s, T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v,
               T* __restrict vmax, int64_t n) {
  const T step_size = static_cast<T>(s.step_size), bc2_sqrt = static_cast<T>(s.bias_correction2_sqrt);
  const T beta1 = static_cast<T>(s.beta1), beta2 = static_cast<T>(s.beta2), eps = static_cast<T>(s.eps);
  const T one_minus_beta1 = static_cast<T>(1.0 - s.beta1), one_minus_beta2 = static_cast<T>(1.0 - s.beta2);
  const T l2 = static_cast<T>(s.l2), decay = static_cast<T>(s.decay);
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (int64_t i = 0; i < n; ++i) {
    const T pi = p[i];
    const T gi = g[i] + l2 * pi;
    const T mi = beta1 * m[i] + one_minus_beta1 * gi;
    T vi = beta2 * v[i] + one_minus_beta2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    if constexpr (kAmsgrad) {
      vi = vmax[i] < vi ? vi : vmax[i];  // std::max, written so that it vectorises
      vmax[i] = vi;
    }
    p[i] = pi * decay - step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
  }
}

void sgd_update(const SGDStep& s, const Tensor& param, const Tensor& grad, const Tensor& buffer) {
  visit_floating(param.dtype(), "SGD", [&]<class T>() {
    T* p = param.mutable_data<T>();
    const T* g = grad.data<T>();
    const int64_t n = param.numel();
    if (s.momentum == 0.0)
      sgd_loop<T, false, false>(s, p, g, nullptr, n);
    else if (s.nesterov)
      sgd_loop<T, true, true>(s, p, g, buffer.mutable_data<T>(), n);
    else
      sgd_loop<T, true, false>(s, p, g, buffer.mutable_data<T>(), n);
  });
}

void adam_update(const AdamStep& s, const Tensor& param, const Tensor& grad, const Tensor& exp_avg,
                 const Tensor& exp_avg_sq, const Tensor& max_exp_avg_sq) {
  visit_floating(param.dtype(), "Adam", [&]<class T>() {
    T* p = param.mutable_data<T>();
    const T* g = grad.data<T>();
    T* m = exp_avg.mutable_data<T>();
    T* v = exp_avg_sq.mutable_data<T>();
    const int64_t n = param.numel();
    if (s.amsgrad)
      adam_loop<T, true>(s, p, g, m, v, max_exp_avg_sq.mutable_data<T>(), n);
    else
      adam_loop<T, false>(s, p, g, m, v, nullptr, n);
  });
}

double abs_pow_sum(const Tensor& x, double power) {
  return visit_floating(x.dtype(), "clip_grad_norm", [&]<class T>() {
    const T* px = x.data<T>();
    const int64_t n = x.numel();
    double acc = 0.0;
    if (std::isinf(power)) {  // serial: OpenMP's max reduction would drop a NaN
      for (int64_t i = 0; i < n; ++i) {
        const double a = std::abs(static_cast<double>(px[i]));
        acc = (a > acc || a != a) ? a : acc;  // a NaN wins, as in PyTorch's max
      }
    } else if (power == 2.0) {
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) acc += static_cast<double>(px[i]) * static_cast<double>(px[i]);
    } else if (power == 1.0) {
#pragma omp parallel for simd schedule(static) reduction(+ : acc) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) acc += std::abs(static_cast<double>(px[i]));
    } else {
#pragma omp parallel for schedule(static) reduction(+ : acc) if (n >= kParallelMin)
      for (int64_t i = 0; i < n; ++i) acc += std::pow(std::abs(static_cast<double>(px[i])), power);
    }
    return acc;
  });
}

const OptimKernels kRefOptim{sgd_update, adam_update, abs_pow_sum};
STRATA_REGISTER_KERNELS(OptimKernels, Backend::Ref, kRefOptim);

}  // namespace
}  // namespace strata::optim
