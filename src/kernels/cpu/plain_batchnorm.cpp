// Plain-layout batch normalization (see plain_batchnorm.hpp). Each (n, c) plane of S values is
// contiguous: per-plane statistics in one pass over the plane (its mean and sum of squared
// deviations, read twice while it sits in L1), combined per channel in double precision (Chan's
// parallel formula), then one elementwise pass. Planes are split across threads. (N, C) input
// (S = 1, batch norm after a linear layer) is read as rows instead, vectorised along C.
#include "kernels/cpu/plain_batchnorm.hpp"

#include "core/dispatch.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/plain.hpp"
#include "kernels/cpu/plain_pool.hpp"
#include "kernels/cpu/vec.hpp"

namespace strata::cpu::plain_batchnorm {
namespace {

// (N, C) rows: the statistics are summed down the columns by blocks of this many channels, one
// block per thread at a time (each channel's sum in the same order for any thread count).
constexpr int64_t kColumnBlock = 16;

// Mean and sum of squared deviations of n floats.
void plane_moments(const float* p, int64_t n, double& mean, double& m2) {
  float sum = 0.f;
#pragma omp simd reduction(+ : sum)
  for (int64_t i = 0; i < n; ++i) sum += p[i];
  const float mu = sum / static_cast<float>(n);
  float sq = 0.f;
#pragma omp simd reduction(+ : sq)
  for (int64_t i = 0; i < n; ++i) sq += (p[i] - mu) * (p[i] - mu);
  mean = mu;
  m2 = sq;
}

// sum of g, and of g (x - mu), over n floats. Not inlined, so that the sums take the same
// vectorised order whichever buffer g is in (the fused activation's backward writes it into gx, the
// unfused op passes grad_y): fused and unfused gradients then agree bit for bit.
__attribute__((noinline)) void plane_gradient_sums(const float* g, const float* x, float mu, int64_t n, double& sum,
                                                   double& dot) {
  float s = 0.f, d = 0.f;
#pragma omp simd reduction(+ : s, d)
  for (int64_t i = 0; i < n; ++i) {
    s += g[i];
    d += g[i] * (x[i] - mu);
  }
  sum = s;
  dot = d;
}

}  // namespace

// (N, C) rows run on one thread: up to 1 M values (LeNet-BN's 256 x 120), larger ones on oneDNN.
bool suits(const BatchNormGeom& g) {
  if (g.layout != Layout::Strided || g.count() == 0) return false;
  return g.spatial > 1 || g.batch * g.channels <= (int64_t{1} << 20);
}

void update_running_stats(const BatchNormGeom& g, const float* mean, const float* var, const Tensor& running_mean,
                          const Tensor& running_var, double momentum) {
  const double m = static_cast<double>(g.count());
  if (running_mean.defined()) {
    Tensor rm = running_mean.detach().contiguous();
    float* r = rm.mutable_data<float>();
    for (int64_t c = 0; c < g.channels; ++c) r[c] = static_cast<float>((1 - momentum) * r[c] + momentum * mean[c]);
    if (!rm.is_same(running_mean)) running_mean.detach().copy_(rm);
  }
  if (running_var.defined()) {
    Tensor rv = running_var.detach().contiguous();
    float* r = rv.mutable_data<float>();
    const double unbias = m > 1 ? m / (m - 1) : 1.0;
    for (int64_t c = 0; c < g.channels; ++c)
      r[c] = static_cast<float>((1 - momentum) * r[c] + momentum * var[c] * unbias);
    if (!rv.is_same(running_var)) running_var.detach().copy_(rv);
  }
}

namespace {

// y = (x - mean) invstd w + b, then the epilogue's activation and pooling, row by row or plane by
// plane while each is in L1; x plain.
BatchNormForward normalized(const BatchNormGeom& g, const Tensor& xc, const Tensor& weight, const Tensor& bias,
                            const Tensor& mean, const Tensor& invstd) {
  const bool pooled = g.epilogue.pool.has_value();
  const int64_t N = g.batch, C = g.channels, S = g.spatial;
  const float* in = xc.data<float>();
  const float* pm = mean.data<float>();
  const float* pi = invstd.data<float>();
  // y = x scale + shift per channel, scale = w invstd, shift = b - mean scale.
  const Tensor w = channel_vector(weight, C, 1.0), b = channel_vector(bias, C, 0.0);
  std::vector<float> scale(static_cast<std::size_t>(C)), shift(static_cast<std::size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    scale[c] = w.data<float>()[c] * pi[c];
    shift[c] = b.data<float>()[c] - pm[c] * scale[c];
  }
  BatchNormForward f{empty(g.x_shape), pooled ? empty(g.epilogue.pool->y_shape()) : Tensor(), mean, invstd};
  float* out = f.y.mutable_data<float>();
  float* pool_out = pooled ? f.pooled.mutable_data<float>() : nullptr;
  // The post-op (and the pooling) run on each row or plane right after it is written, while it is in L1.
  const std::optional<Activation> activation = g.epilogue.activation;
  if (S == 1) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n) {
      float* row = out + n * C;
#pragma omp simd
      for (int64_t c = 0; c < C; ++c) row[c] = in[n * C + c] * scale[c] + shift[c];
      if (activation) simd::activate_row(*activation, row, row, C);
    }
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < N * C; ++p) {
      const float a = scale[p % C], s = shift[p % C];
      const float* src = in + p * S;
      float* dst = out + p * S;
#pragma omp simd
      for (int64_t i = 0; i < S; ++i) dst[i] = src[i] * a + s;
      if (activation) simd::activate_row(*activation, dst, dst, S);
      if (pooled)
        plain_pool::two_by_two_rows(g.epilogue.pool->mode, dst, g.x_shape[3], g.x_shape[2] / 2, pool_out + p * (S / 4));
    }
  }
  return f;
}

}  // namespace

BatchNormForward forward_training(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                  const Tensor& running_mean, const Tensor& running_var) {
  const Tensor xc = in_plain_layout(x);
  const int64_t N = g.batch, C = g.channels, S = g.spatial;
  const float* in = xc.data<float>();
  // Per channel: mean and sum of squared deviations (M2).
  std::vector<double> channel_mean(static_cast<std::size_t>(C), 0.0), channel_m2(static_cast<std::size_t>(C), 0.0);
  if (S == 1) {  // (N, C) rows: two passes down the columns of each block of channels
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < C; c0 += kColumnBlock) {
      const int64_t c1 = std::min(C, c0 + kColumnBlock);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = c0; c < c1; ++c) channel_mean[c] += in[n * C + c];
      for (int64_t c = c0; c < c1; ++c) channel_mean[c] /= static_cast<double>(N);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          const double d = in[n * C + c] - channel_mean[c];
          channel_m2[c] += d * d;
        }
    }
  } else {
    std::vector<double> plane_mean(static_cast<std::size_t>(N * C)), plane_m2(static_cast<std::size_t>(N * C));
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < N * C; ++p) plane_moments(in + p * S, S, plane_mean[p], plane_m2[p]);
    // Combine the N planes of each channel: equal counts S, so the mean is the mean of the means
    // and M2 = sum of the planes' M2 + S * sum of (plane mean - mean)^2.
    for (int64_t c = 0; c < C; ++c) {
      double mu = 0;
      for (int64_t n = 0; n < N; ++n) mu += plane_mean[n * C + c];
      mu /= static_cast<double>(N);
      double m2 = 0;
      for (int64_t n = 0; n < N; ++n) {
        const double d = plane_mean[n * C + c] - mu;
        m2 += plane_m2[n * C + c] + static_cast<double>(S) * d * d;
      }
      channel_mean[c] = mu;
      channel_m2[c] = m2;
    }
  }
  Tensor mean = empty({C}), var = empty({C}), invstd = empty({C});
  float* pm = mean.mutable_data<float>();
  float* pv = var.mutable_data<float>();
  float* pi = invstd.mutable_data<float>();
  for (int64_t c = 0; c < C; ++c) {
    const double mu = channel_mean[c], m2 = channel_m2[c];
    const double v = m2 / static_cast<double>(g.count());
    pm[c] = static_cast<float>(mu);
    pv[c] = static_cast<float>(v);
    pi[c] = static_cast<float>(1.0 / std::sqrt(v + g.eps));
  }
  update_running_stats(g, pm, pv, running_mean, running_var, g.momentum);
  return normalized(g, xc, weight, bias, mean, invstd);
}

BatchNormForward forward_inference(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                                   const Tensor& running_mean, const Tensor& running_var) {
  const Tensor mean = running_mean.detach().contiguous().clone(), var = running_var.detach().contiguous();
  Tensor invstd = empty({g.channels});
  const float* pv = var.data<float>();
  float* pi = invstd.mutable_data<float>();
  for (int64_t c = 0; c < g.channels; ++c) pi[c] = static_cast<float>(1.0 / std::sqrt(double(pv[c]) + g.eps));
  return normalized(g, in_plain_layout(x), weight, bias, mean, invstd);
}

BatchNormGrads backward(const BatchNormGeom& g, const BatchNormBackwardArgs& args) {
  const bool pooled = g.epilogue.pool.has_value(), training = g.training;
  const Tensor& weight = args.weight;
  const Tensor xc = in_plain_layout(args.x), gyc = in_plain_layout(args.grad_y);
  const Tensor yc = g.epilogue.backward_reads_y() ? in_plain_layout(args.y) : Tensor();
  const int64_t N = g.batch, C = g.channels, S = g.spatial;
  const float* in = xc.data<float>();
  const float* gy = gyc.data<float>();
  const float* y = yc.defined() ? yc.data<float>() : nullptr;  // the output before the pooling
  const Tensor mean_c = args.saved_mean.detach().contiguous(), invstd_c = args.saved_invstd.detach().contiguous();
  const float* mean = mean_c.data<float>();
  const float* invstd = invstd_c.data<float>();
  Tensor gx = empty(g.x_shape);
  float* out = gx.mutable_data<float>();
  // With an activation (or pooled), the first pass writes the gradient of the normalised output,
  // gy f'(y), into gx row by row (while the row is in L1), and the second pass reads it from there.
  // Pooled, gy is first spread from the pooled gradient's plane (a quarter of the floats) into gx
  // (to the maxima of y for a max pooling).
  const bool gradient_in_gx = g.epilogue.activation || pooled;
  auto gradient_row = [&](int64_t offset, int64_t n) -> const float* {
    if (!gradient_in_gx) return gy + offset;
    const float* grad = gy + offset;
    if (pooled) {
      plain_pool::two_by_two_rows_backward(g.epilogue.pool->mode, gy + offset / 4, y ? y + offset : nullptr,
                                           g.x_shape[3], g.x_shape[2] / 2, out + offset);
      grad = out + offset;
    }
    if (g.epilogue.activation)
      simd::with_activation(*g.epilogue.activation, [&](auto kind) {
        simd::activation_backward_row<kind.value>(*g.epilogue.activation, grad, y + offset, out + offset, n);
      });
    return out + offset;
  };
  // Per channel: sum of gy and of gy (x - mean) (the latter times invstd is the weight gradient).
  std::vector<double> channel_gy(static_cast<std::size_t>(C), 0.0), channel_gyx(static_cast<std::size_t>(C), 0.0);
  if (S == 1) {
    if (g.epilogue.activation) {
#pragma omp parallel for schedule(static)
      for (int64_t n = 0; n < N; ++n) gradient_row(n * C, C);
    }
    const float* grad = g.epilogue.activation ? out : gy;
#pragma omp parallel for schedule(static)
    for (int64_t c0 = 0; c0 < C; c0 += kColumnBlock) {
      const int64_t c1 = std::min(C, c0 + kColumnBlock);
      for (int64_t n = 0; n < N; ++n)
        for (int64_t c = c0; c < c1; ++c) {
          channel_gy[c] += grad[n * C + c];
          channel_gyx[c] += double(grad[n * C + c]) * (in[n * C + c] - mean[c]);
        }
    }
  } else {
    std::vector<double> plane_gy(static_cast<std::size_t>(N * C)), plane_gyx(static_cast<std::size_t>(N * C));
#pragma omp parallel for schedule(static)
    for (int64_t p = 0; p < N * C; ++p) {
      const float mu = mean[p % C];
      const float* xs = in + p * S;
      plane_gradient_sums(gradient_row(p * S, S), xs, mu, S, plane_gy[p], plane_gyx[p]);
    }
    for (int64_t n = 0; n < N; ++n)
      for (int64_t c = 0; c < C; ++c) {
        channel_gy[c] += plane_gy[n * C + c];
        channel_gyx[c] += plane_gyx[n * C + c];
      }
  }
  Tensor gw = empty({C}), gb = empty({C});
  float* pw = gw.mutable_data<float>();
  float* pb = gb.mutable_data<float>();
  const Tensor w = channel_vector(weight, C, 1.0);
  // gx = w invstd (gy - [training] (sum_gy + xhat sum_gy_xhat) / m), xhat = (x - mean) invstd:
  // per channel gx = a gy + b (x - mean) + c.
  std::vector<float> ca(static_cast<std::size_t>(C)), cb(static_cast<std::size_t>(C)), cc(static_cast<std::size_t>(C));
  const double m = static_cast<double>(g.count());
  for (int64_t c = 0; c < C; ++c) {
    const double sum = channel_gy[c], dot = channel_gyx[c];
    const double is = invstd[c], scale = double(w.data<float>()[c]) * is;
    pb[c] = static_cast<float>(sum);
    pw[c] = static_cast<float>(dot * is);
    ca[c] = static_cast<float>(scale);
    cb[c] = training ? static_cast<float>(-scale * is * is * dot / m) : 0.f;
    cc[c] = training ? static_cast<float>(-scale * sum / m) : 0.f;
  }
  const float* grad = gradient_in_gx ? out : gy;  // the gradient of the normalised output
  // In evaluation gx = a gy alone: x is not read (a NaN in x leaves its gradient alone, as in the reference).
  if (S == 1) {
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < N; ++n)
#pragma omp simd
      for (int64_t c = 0; c < C; ++c)
        out[n * C + c] = training ? ca[c] * grad[n * C + c] + cb[c] * (in[n * C + c] - mean[c]) + cc[c]
                                  : ca[c] * grad[n * C + c];
    return {gx, gw, gb, {}};
  }
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < N * C; ++p) {
    const int64_t c = p % C;
    const float a = ca[c], b = cb[c], k = cc[c], mu = mean[c];
    const float* xs = in + p * S;
    const float* gs = grad + p * S;
    float* dst = out + p * S;
    if (training) {
#pragma omp simd
      for (int64_t i = 0; i < S; ++i) dst[i] = a * gs[i] + b * (xs[i] - mu) + k;
    } else {
#pragma omp simd
      for (int64_t i = 0; i < S; ++i) dst[i] = a * gs[i];
    }
  }
  return {gx, gw, gb, {}};
}

namespace {

// Plain input, with an activation and a 2x2 stride-2 average or max pooling at most.
bool supports(const BatchNormGeom& g, DType dtype) {
  if (dtype != DType::F32 || g.epilogue.residual) return false;
  if (g.epilogue.pool && (g.x_shape.ndim() != 4 || !plain_pool::is_two_by_two(*g.epilogue.pool))) return false;
  return suits(g);
}

BatchNormForward forward(const BatchNormGeom& g, const Tensor& x, const Tensor& weight, const Tensor& bias,
                         const Tensor& running_mean, const Tensor& running_var, const Tensor&) {
  return g.training ? forward_training(g, x, weight, bias, running_mean, running_var)
                    : forward_inference(g, x, weight, bias, running_mean, running_var);
}

const BatchNormKernels kPlainBatchNorm{supports, forward, backward};
STRATA_REGISTER_RANKED_KERNELS(BatchNormKernels, Backend::Dnnl, 0, kPlainBatchNorm);

}  // namespace
}  // namespace strata::cpu::plain_batchnorm
