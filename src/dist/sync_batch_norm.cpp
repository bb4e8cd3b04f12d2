// dist::sync_batch_norm: batch norm in training with the statistics of every rank's batch (see
// strata/dist/sync_batch_norm.hpp for the scheme and the gradient's weighting).
#include "strata/dist/sync_batch_norm.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/ref/sync_batchnorm.hpp"
#include "strata/autograd.hpp"
#include "strata/error.hpp"

namespace strata::dist {
namespace {

// The geometry of x (N, C, S...) for the kernels, after checking the arguments.
BatchNormGeom checked_geom(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                           const Tensor& running_var, double momentum, double eps) {
  STRATA_CHECK(x.defined(), "sync_batch_norm: input is an undefined tensor");
  STRATA_CHECK(x.dtype() == DType::F32 || x.dtype() == DType::F64, "sync_batch_norm: input must be f32 or f64, got ",
               dtype_name(x.dtype()));
  STRATA_CHECK(x.device().is_cpu(), "sync_batch_norm: input is on ", x.device().str(), "; it runs on the CPU");
  STRATA_CHECK(x.ndim() >= 2, "sync_batch_norm: expected an input of 2 or more dimensions (N, C, ...), got ",
               x.shape());
  STRATA_CHECK(eps > 0.0, "sync_batch_norm: eps must be positive, got ", eps);
  STRATA_CHECK(momentum >= 0.0 && momentum <= 1.0, "sync_batch_norm: momentum must be in [0, 1], got ", momentum);
  BatchNormGeom g;
  g.x_shape = x.shape();
  g.batch = x.shape()[0];
  g.channels = x.shape()[1];
  for (int i = 2; i < x.ndim(); ++i) g.spatial *= x.shape()[i];
  g.eps = eps;
  g.training = true;
  g.momentum = momentum;
  for (auto [name, t] : {std::pair{"weight", weight}, std::pair{"bias", bias}, std::pair{"running_mean", running_mean},
                         std::pair{"running_var", running_var}}) {
    if (!t.defined()) continue;
    STRATA_CHECK(t.ndim() == 1 && t.shape()[0] == g.channels, "sync_batch_norm: ", name, " must have shape [",
                 g.channels, "] (one per channel), got ", t.shape());
    STRATA_CHECK(t.dtype() == x.dtype(), "sync_batch_norm: ", name, " is ", dtype_name(t.dtype()), " but input is ",
                 dtype_name(x.dtype()));
  }
  for (auto [name, t] : {std::pair{"running_mean", running_mean}, std::pair{"running_var", running_var}})
    STRATA_CHECK(!t.defined() || (t.is_contiguous() && !t.requires_grad()), "sync_batch_norm: ", name,
                 " must be a contiguous buffer that does not require grad");
  return g;
}

// The forward and backward on scalars T (float or double).
template <class T>
struct SyncBatchNormImpl {
  // Statistics in T, as ref::batch_norm_normalize takes them.
  struct Stats {
    Tensor mean, invstd;  // (C)
    double count = 0;     // M: values per channel over all ranks
  };

  static Stats forward(const BatchNormGeom& g, const Tensor& x, const Tensor& running_mean, const Tensor& running_var,
                       Communicator& comm) {
    const int64_t channels = g.channels;
    const auto C = static_cast<std::size_t>(channels);
    // sums = [sum x (C), sum x^2 (C), values per channel]: this rank's, then every rank's.
    std::vector<double> sums(2 * C + 1);
    ref::channel_moments(g, x.data<T>(), sums.data(), sums.data() + C);
    sums[2 * C] = static_cast<double>(g.count());
    comm.all_reduce_sum(sums);
    const double m = sums[2 * C];
    STRATA_CHECK(m > 1.0, "sync_batch_norm: expected more than 1 value per channel over all ranks when training, got ",
                 m, " (input ", x.shape(), " on rank ", comm.rank(), ")");
    Stats st{empty({channels}, x.dtype()), empty({channels}, x.dtype()), m};
    T* mean = st.mean.template mutable_data<T>();
    T* invstd = st.invstd.template mutable_data<T>();
    T* rm = running_mean.defined() ? running_mean.mutable_data<T>() : nullptr;
    T* rv = running_var.defined() ? running_var.mutable_data<T>() : nullptr;
    for (std::size_t c = 0; c < C; ++c) {
      const double mu = sums[c] / m, var = std::max(sums[C + c] / m - mu * mu, 0.0);
      mean[c] = static_cast<T>(mu);
      invstd[c] = static_cast<T>(1.0 / std::sqrt(var + g.eps));
      if (rm) rm[c] = static_cast<T>((1.0 - g.momentum) * rm[c] + g.momentum * mu);
      if (rv) rv[c] = static_cast<T>((1.0 - g.momentum) * rv[c] + g.momentum * var * m / (m - 1.0));
    }
    return st;
  }

  // Gradients of x, weight and bias as the header derives them; x's only when wanted (its
  // all-reduce then runs, on every rank alike: the same graph wants the same gradients).
  static std::vector<Tensor> backward(const BatchNormGeom& g, const Tensor& grad_y, const Tensor& x,
                                      const Tensor& weight, const Stats& st, const SyncBatchNorm& group,
                                      const autograd::Node& node) {
    const auto C = static_cast<std::size_t>(g.channels);
    const Tensor gy = grad_y.contiguous();
    const T* mean = st.mean.template data<T>();
    const T* invstd = st.invstd.template data<T>();
    // sums = [sum gy (C), sum gy (x - mean) (C)] over this rank's values.
    std::vector<double> sums(2 * C);
    ref::channel_grad_moments(g, gy.data<T>(), x.data<T>(), mean, sums.data(), sums.data() + C);
    Tensor grad_x, grad_w, grad_b;
    if (node.needs_input_grad(0)) {
      const double w_r = group.gradient_weight();
      std::vector<double> global(sums);
      for (double& v : global) v *= w_r;
      group.communicator().all_reduce_sum(global);
      // mean_gy = S_gy / (w_r M), mean_gy_xhat = S_gy_xhat / (w_r M) with S_gy_xhat = invstd S_gy_xmu.
      std::vector<double> mean_gy(C), mean_gy_xhat(C);
      for (std::size_t c = 0; c < C; ++c) {
        mean_gy[c] = global[c] / (w_r * st.count);
        mean_gy_xhat[c] = global[C + c] * static_cast<double>(invstd[c]) / (w_r * st.count);
      }
      grad_x = empty(x.shape(), x.dtype());
      ref::batch_norm_backward_data(g, gy.data<T>(), x.data<T>(), weight.defined() ? weight.data<T>() : nullptr, mean,
                                    invstd, mean_gy.data(), mean_gy_xhat.data(), grad_x.mutable_data<T>());
    }
    if (node.needs_input_grad(1)) {
      grad_w = empty({g.channels}, x.dtype());
      T* gw = grad_w.mutable_data<T>();
      for (std::size_t c = 0; c < C; ++c) gw[c] = static_cast<T>(sums[C + c] * static_cast<double>(invstd[c]));
    }
    if (node.needs_input_grad(2)) {
      grad_b = empty({g.channels}, x.dtype());
      T* gb = grad_b.mutable_data<T>();
      for (std::size_t c = 0; c < C; ++c) gb[c] = static_cast<T>(sums[c]);
    }
    return {grad_x, grad_w, grad_b};
  }

  static Tensor run(const BatchNormGeom& g, const Tensor& x_in, const Tensor& weight, const Tensor& bias,
                    const Tensor& running_mean, const Tensor& running_var,
                    const std::shared_ptr<const SyncBatchNorm>& group) {
    const Tensor x = x_in.detach().contiguous();
    const Tensor w = weight.defined() ? weight.detach().contiguous() : Tensor();
    const Tensor b = bias.defined() ? bias.detach().contiguous() : Tensor();
    const Stats st = forward(g, x, running_mean, running_var, group->communicator());
    Tensor y = empty(x.shape(), x.dtype());
    ref::batch_norm_normalize(g, x.data<T>(), st.mean.template data<T>(), st.invstd.template data<T>(),
                              w.defined() ? w.data<T>() : nullptr, b.defined() ? b.data<T>() : nullptr,
                              y.mutable_data<T>());
    if (!autograd::needs_grad({x_in, weight, bias})) return y;
    autograd::record("sync_batch_norm", y, {x_in, weight, bias},
                     [g, x, w, st, group](const Tensor& grad_y, const autograd::Node& node) {
                       return backward(g, grad_y, x, w, st, *group, node);
                     });
    return y;
  }
};

}  // namespace

Tensor sync_batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                       const Tensor& running_var, double momentum, double eps,
                       const std::shared_ptr<const SyncBatchNorm>& group) {
  STRATA_CHECK(group != nullptr, "sync_batch_norm: no SyncBatchNorm group given");
  const BatchNormGeom g = checked_geom(x, weight, bias, running_mean, running_var, momentum, eps);
  if (x.dtype() == DType::F64)
    return SyncBatchNormImpl<double>::run(g, x, weight, bias, running_mean, running_var, group);
  return SyncBatchNormImpl<float>::run(g, x, weight, bias, running_mean, running_var, group);
}

}  // namespace strata::dist
