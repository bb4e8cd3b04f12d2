#include "data/image_kernels.hpp"

#include <algorithm>
#include <cmath>

namespace strata::data {

BilinearTaps bilinear_taps(int64_t in_size, int64_t out_size) {
  BilinearTaps t;
  t.i0.resize(out_size);
  t.i1.resize(out_size);
  t.w0.resize(out_size);
  t.w1.resize(out_size);
  const float scale = static_cast<float>(in_size) / static_cast<float>(out_size);
  for (int64_t o = 0; o < out_size; ++o) {
    if (in_size == out_size) {  // PyTorch copies an unchanged axis
      t.i0[o] = t.i1[o] = o;
      t.w0[o] = 1.0f;
      t.w1[o] = 0.0f;
      continue;
    }
    const float s = std::max(scale * (static_cast<float>(o) + 0.5f) - 0.5f, 0.0f);
    const int64_t i0 = std::min(static_cast<int64_t>(std::floor(s)), in_size - 1);
    const float w1 = std::clamp(s - static_cast<float>(i0), 0.0f, 1.0f);
    t.i0[o] = i0;
    t.i1[o] = std::min(i0 + 1, in_size - 1);
    t.w1[o] = w1;
    t.w0[o] = 1.0f - w1;
  }
  return t;
}

void resize_plane(const float* src, int64_t in_h, int64_t in_w, const BilinearTaps& rows, const BilinearTaps& cols,
                  std::vector<float>& rows_w, float* dst) {
  const auto out_h = static_cast<int64_t>(rows.i0.size());
  const auto out_w = static_cast<int64_t>(cols.i0.size());
  rows_w.resize(static_cast<std::size_t>(in_h * out_w));
  for (int64_t y = 0; y < in_h; ++y) {
    const float* in = src + y * in_w;
    float* out = rows_w.data() + y * out_w;
    for (int64_t x = 0; x < out_w; ++x) out[x] = cols.w0[x] * in[cols.i0[x]] + cols.w1[x] * in[cols.i1[x]];
  }
  for (int64_t y = 0; y < out_h; ++y) {
    const float* r0 = rows_w.data() + rows.i0[y] * out_w;
    const float* r1 = rows_w.data() + rows.i1[y] * out_w;
    const float h0 = rows.w0[y], h1 = rows.w1[y];
    float* out = dst + y * out_w;
    for (int64_t x = 0; x < out_w; ++x) out[x] = h0 * r0[x] + h1 * r1[x];
  }
}

}  // namespace strata::data
