// Linear layers of few rows (batch 1 to 4 at inference), registered for the fast CPU backend above
// oneDNN's matmul (LinearKernels, ops/linear.hpp). With so few rows a linear layer is a
// matrix-vector product that reads every weight once: the large ones take the weights' bytes over
// the memory bandwidth (AlexNet's first dense layer holds 103 MB), the small ones (LeNet's) less
// than a oneDNN primitive's call. Each thread streams a contiguous band of the weight's rows, four
// at a time, dotting them with the few input rows kept in cache.
//
// Layouts: x (N, in), weight (out, in) as PyTorch, y (N, out); all plain row-major.
//   forward:          y[r, o]  = sum_i x[r, i] W[o, i] + b[o]
//   backward data:    gx[r, i] = sum_o gy[r, o] W[o, i]
//   backward weights: gW[o, i] = sum_r gy[r, o] x[r, i]
#include <algorithm>
#include <vector>

#include "core/dispatch.hpp"
#include "kernels/cpu/plain.hpp"
#include "ops/linear.hpp"

namespace strata::cpu::few_rows_linear {
namespace {

constexpr int64_t kMaxRows = 4;
// Products of fewer multiply-adds run on one thread (LeNet's layers at batch 1).
constexpr int64_t kParallelWork = int64_t{1} << 15;

bool supports(const Tensor& x, const Tensor& weight) {
  return x.dtype() == DType::F32 && weight.dtype() == DType::F32 && x.shape()[0] >= 1 && x.shape()[0] <= kMaxRows;
}

// Output features per step of the forward: four weight rows streamed side by side, four
// independent sums (one row's sum alone is a chain of dependent multiply-adds that waits on
// itself between loads).
constexpr int64_t kOutputsPerStep = 4;

// y[r, o0 .. o0 + kOutputsPerStep) without the bias.
void dot_four_rows(const float* x, int64_t rows, int64_t in, const float* w, int64_t out, int64_t o0, float* y) {
  const float* w0 = w + o0 * in;
  const float *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * in;
    float s0 = 0.f, s1 = 0.f, s2 = 0.f, s3 = 0.f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t i = 0; i < in; ++i) {
      const float xi = xr[i];
      s0 += xi * w0[i];
      s1 += xi * w1[i];
      s2 += xi * w2[i];
      s3 += xi * w3[i];
    }
    float* yr = y + r * out + o0;
    yr[0] = s0, yr[1] = s1, yr[2] = s2, yr[3] = s3;
  }
}

Tensor forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t rows = x.shape()[0], in = x.shape()[1], out = weight.shape()[0];
  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = empty({rows, out});
  const float* px = xc.data<float>();
  const float* pw = wc.data<float>();
  const float* pb = bc.defined() ? bc.data<float>() : nullptr;
  float* py = y.mutable_data<float>();
  const int64_t steps = out / kOutputsPerStep;
#pragma omp parallel for schedule(static) if (rows * in * out > kParallelWork)
  for (int64_t step = 0; step < steps; ++step) dot_four_rows(px, rows, in, pw, out, step * kOutputsPerStep, py);
  for (int64_t o = steps * kOutputsPerStep; o < out; ++o)
    for (int64_t r = 0; r < rows; ++r) {
      const float* xr = px + r * in;
      const float* w = pw + o * in;
      float sum = 0.f;
#pragma omp simd reduction(+ : sum)
      for (int64_t i = 0; i < in; ++i) sum += xr[i] * w[i];
      py[r * out + o] = sum;
    }
  if (pb != nullptr)
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t o = 0; o < out; ++o) py[r * out + o] += pb[o];
  return y;
}

Tensor backward_data(const Tensor& grad_y, const Tensor& weight) {
  const int64_t rows = grad_y.shape()[0], out = weight.shape()[0], in = weight.shape()[1];
  const Tensor gyc = grad_y.detach().contiguous(), wc = weight.detach().contiguous();
  Tensor gx = zeros({rows, in});
  const float* gy = gyc.data<float>();
  const float* pw = wc.data<float>();
  float* px = gx.mutable_data<float>();
  // Each thread a band of columns of gx, streaming the weights' rows over it.
  constexpr int64_t kBand = 1024;
#pragma omp parallel for schedule(static) if (rows * in * out > kParallelWork)
  for (int64_t i0 = 0; i0 < in; i0 += kBand) {
    const int64_t i1 = std::min(in, i0 + kBand);
    for (int64_t o = 0; o < out; ++o) {
      const float* w = pw + o * in;
      for (int64_t r = 0; r < rows; ++r) {
        const float g = gy[r * out + o];
        float* dst = px + r * in;
#pragma omp simd
        for (int64_t i = i0; i < i1; ++i) dst[i] += g * w[i];
      }
    }
  }
  return gx;
}

Tensor backward_weight(const Tensor& grad_y, const Tensor& x) {
  const int64_t rows = grad_y.shape()[0], out = grad_y.shape()[1], in = x.shape()[1];
  const Tensor gyc = grad_y.detach().contiguous(), xc = x.detach().contiguous();
  Tensor gw = empty({out, in});
  const float* gy = gyc.data<float>();
  const float* px = xc.data<float>();
  float* pw = gw.mutable_data<float>();
#pragma omp parallel for schedule(static) if (rows * in * out > kParallelWork)
  for (int64_t o = 0; o < out; ++o) {
    float* dst = pw + o * in;
    const float g0 = gy[o];
#pragma omp simd
    for (int64_t i = 0; i < in; ++i) dst[i] = g0 * px[i];
    for (int64_t r = 1; r < rows; ++r) {
      const float g = gy[r * out + o];
      const float* xr = px + r * in;
#pragma omp simd
      for (int64_t i = 0; i < in; ++i) dst[i] += g * xr[i];
    }
  }
  return gw;
}

const LinearKernels kFewRowsLinear{supports, forward, backward_data, backward_weight, column_sums};
STRATA_REGISTER_RANKED_KERNELS(LinearKernels, Backend::Dnnl, 0, kFewRowsLinear);

}  // namespace
}  // namespace strata::cpu::few_rows_linear
