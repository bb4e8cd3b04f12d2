// Plain-layout pooling (see plain_pool.hpp): each (n, c) plane on its own, planes split across
// threads. 2x2 windows take one vector loop per output row. Other average windows are precomputed
// per output index along each dim; each output row first sums (forward) or spreads (backward)
// whole input rows in vector loops, leaving only the short windows along W to scalar code.
#include "kernels/cpu/plain_pool.hpp"

#include "core/dispatch.hpp"

#include <algorithm>
#include <utility>
#include <vector>

#include "kernels/cpu/plain.hpp"
#include "kernels/cpu/vec.hpp"

namespace strata::cpu::plain_pool {
namespace {

// Windows of k = stride, no padding and out k = in along every dim: each input element is in
// exactly one window of k_d k_h k_w elements (LeNet's 2x2 pooling).
bool tiles_exactly(const PoolGeom& g) {
  for (int d = 0; d < 3; ++d)
    if (g.kernel[d] != g.stride[d] || g.padding[d] != 0 || g.out[d] * g.kernel[d] != g.in[d]) return false;
  return true;
}

// The 2x2 poolings of whole tensors, plane by plane (x: the forward's input, max pooling only).
void two_by_two_forward(const PoolGeom& g, const float* x, float* y) {
  const int64_t W = g.in[2], rows = g.out[0] * g.out[1], plane = g.in_spatial();  // rows of every depth
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p) two_by_two_rows(g.mode, x + p * plane, W, rows, y + p * (plane / 4));
}

void two_by_two_backward(const PoolGeom& g, const float* grad_y, const float* x, float* grad_x) {
  const int64_t W = g.in[2], rows = g.out[0] * g.out[1], plane = g.in_spatial();
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < g.planes(); ++p)
    two_by_two_rows_backward(g.mode, grad_y + p * (plane / 4), x ? x + p * plane : nullptr, W, rows,
                             grad_x + p * plane);
}

// The position (0 top left, 1 top right, 2 bottom left, 3 bottom right) of a window's maximum,
// chosen as the reference's max pooling chooses: a later value wins when larger or NaN.
// Branch-free, so that the loops over windows vectorize.
inline int max_position(float a, float b, float c, float d) {
  const bool take_b = b > a || b != b;
  const float ab = take_b ? b : a;
  const bool take_c = c > ab || c != c;
  const float abc = take_c ? c : ab;
  const bool take_d = d > abc || d != d;
  return take_d ? 3 : take_c ? 2 : take_b ? 1 : 0;
}

// v's lanes 1 0 3 2 5 4 ...: each lane's partner in its pair (a window's other column).
template <int... I>
simd::Vec pair_swap(simd::Vec v, std::integer_sequence<int, I...>) {
  return __builtin_shufflevector(v, v, (I ^ 1)...);
}
// All bits set in the odd lanes (a window's right column).
template <int... I>
constexpr simd::IVec odd_lanes(std::integer_sequence<int, I...>) {
  return simd::IVec{-(I & 1)...};
}
// h0 h0 h1 h1 ...: each of W / 2 floats in the two lanes of its window's columns.
typedef float HalfVec __attribute__((vector_size(2 * simd::W), aligned(4)));
template <int... I>
simd::Vec in_pairs(HalfVec h, std::integer_sequence<int, I...>) {
  return __builtin_shufflevector(h, h, (I / 2)...);
}

// The max pooling's backward over whole vectors of input columns (lane by lane, max_position's
// choice): the gradient grad[j] of the window at columns 2j, 2j + 1 of the input rows x_top and
// x_bottom goes to the window's maximum, zeros elsewhere, in the output rows top and bottom.
// Each lane reads its window as (a, b, c, d) from its own and its partner's lane. Returns the
// windows done (whole vectors of them).
int64_t max_backward_vectors(const float* grad, const float* x_top, const float* x_bottom, int64_t width,
                             float* top, float* bottom) {
  using simd::IVec, simd::Vec, simd::W;
  constexpr auto kLanes = std::make_integer_sequence<int, W>{};
  constexpr IVec kOdd = odd_lanes(kLanes);
  int64_t i = 0;
  for (; i + W <= width; i += W) {
    const Vec t = simd::load(x_top + i), u = simd::load(x_bottom + i);
    const Vec t_partner = pair_swap(t, kLanes), u_partner = pair_swap(u, kLanes);
    const Vec a = kOdd ? t_partner : t, b = kOdd ? t : t_partner;
    const Vec c = kOdd ? u_partner : u, d = kOdd ? u : u_partner;
    const IVec take_b = (b > a) | (b != b);
    const Vec ab = take_b ? b : a;
    const IVec take_c = (c > ab) | (c != c);
    const Vec abc = take_c ? c : ab;
    const IVec take_d = (d > abc) | (d != d);
    const IVec at_top = kOdd ? take_b & ~(take_c | take_d) : ~(take_b | take_c | take_d);
    const IVec at_bottom = kOdd ? take_d : take_c & ~take_d;
    const IVec g = reinterpret_cast<IVec>(in_pairs(*reinterpret_cast<const HalfVec*>(grad + i / 2), kLanes));
    simd::store(top + i, reinterpret_cast<Vec>(g & at_top));
    simd::store(bottom + i, reinterpret_cast<Vec>(g & at_bottom));
  }
  return i / 2;
}

struct Windows {
  std::vector<PoolWindow> dims[3];  // dims[d][o]: the window of output o along dim d

  explicit Windows(const PoolGeom& g) {
    for (int d = 0; d < 3; ++d)
      for (int64_t o = 0; o < g.out[d]; ++o) dims[d].push_back(g.window(d, o));
  }
};

}  // namespace

bool is_two_by_two(const PoolGeom& g) {
  return tiles_exactly(g) && g.kernel[0] == 1 && g.kernel[1] == 2 && g.kernel[2] == 2;
}

void two_by_two_rows(PoolMode mode, const float* in, int64_t width, int64_t rows, float* out) {
  const int64_t half = width / 2;
  for (int64_t r = 0; r < rows; ++r) {  // output row r reads input rows 2r and 2r + 1
    const float* top = in + 2 * r * width;
    const float* bottom = top + width;
    float* dst = out + r * half;
    if (mode == PoolMode::Avg) {
#pragma omp simd
      for (int64_t j = 0; j < half; ++j)
        dst[j] = 0.25f * ((top[2 * j] + top[2 * j + 1]) + (bottom[2 * j] + bottom[2 * j + 1]));
    } else {
#pragma omp simd
      for (int64_t j = 0; j < half; ++j) {
        const float a = top[2 * j], b = top[2 * j + 1], c = bottom[2 * j], d = bottom[2 * j + 1];
        const int k = max_position(a, b, c, d);
        dst[j] = k == 3 ? d : k == 2 ? c : k == 1 ? b : a;
      }
    }
  }
}

void two_by_two_rows_backward(PoolMode mode, const float* grad, const float* in, int64_t width, int64_t rows,
                              float* out) {
  const int64_t half = width / 2;
  for (int64_t r = 0; r < rows; ++r) {
    const float* src = grad + r * half;
    float* top = out + 2 * r * width;
    float* bottom = top + width;
    if (mode == PoolMode::Avg) {
#pragma omp simd
      for (int64_t j = 0; j < half; ++j) {
        const float share = 0.25f * src[j];
        top[2 * j] = top[2 * j + 1] = bottom[2 * j] = bottom[2 * j + 1] = share;
      }
    } else {
      const float* x_top = in + 2 * r * width;
      const float* x_bottom = x_top + width;
      int64_t j = max_backward_vectors(src, x_top, x_bottom, width, top, bottom);
      for (; j < half; ++j) {
        const int k = max_position(x_top[2 * j], x_top[2 * j + 1], x_bottom[2 * j], x_bottom[2 * j + 1]);
        top[2 * j] = k == 0 ? src[j] : 0.f;
        top[2 * j + 1] = k == 1 ? src[j] : 0.f;
        bottom[2 * j] = k == 2 ? src[j] : 0.f;
        bottom[2 * j + 1] = k == 3 ? src[j] : 0.f;
      }
    }
  }
}

Tensor avg_forward(const PoolGeom& g, const Tensor& x) {
  const Tensor xc = in_plain_layout(x);
  Tensor y = empty(g.y_shape());
  const float* in = xc.data<float>();
  float* out = y.mutable_data<float>();
  if (is_two_by_two(g)) {
    two_by_two_forward(g, in, out);
    return y;
  }
  const Windows w(g);
  const int64_t H = g.in[1], W = g.in[2], in_plane = g.in_spatial(), out_plane = g.out_spatial();
#pragma omp parallel
  {
    std::vector<float> rows(static_cast<std::size_t>(W));  // the input rows of one window row, summed
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes(); ++p) {
      const float* src = in + p * in_plane;
      float* dst = out + p * out_plane;
      for (const PoolWindow& wd : w.dims[0])
        for (const PoolWindow& wh : w.dims[1]) {
          std::fill(rows.begin(), rows.end(), 0.f);
          for (int64_t d = wd.begin; d < wd.end; ++d)
            for (int64_t h = wh.begin; h < wh.end; ++h) {
              const float* row = src + (d * H + h) * W;
#pragma omp simd
              for (int64_t i = 0; i < W; ++i) rows[i] += row[i];
            }
          for (const PoolWindow& ww : w.dims[2]) {
            float sum = 0.f;
            for (int64_t i = ww.begin; i < ww.end; ++i) sum += rows[i];
            *dst++ = sum / static_cast<float>(g.divisor(wd, wh, ww));
          }
        }
    }
  }
  return y;
}

Tensor avg_backward(const PoolGeom& g, const Tensor& grad_y) {
  const Tensor gyc = in_plain_layout(grad_y);
  Tensor gx = empty(g.x_shape());
  const float* in = gyc.data<float>();
  float* out = gx.mutable_data<float>();
  if (is_two_by_two(g)) {
    two_by_two_backward(g, in, nullptr, out);
    return gx;
  }
  const Windows w(g);
  const int64_t H = g.in[1], W = g.in[2], in_plane = g.in_spatial(), out_plane = g.out_spatial();
#pragma omp parallel
  {
    std::vector<float> row(static_cast<std::size_t>(W));  // one output row's shares spread along W
#pragma omp for schedule(static)
    for (int64_t p = 0; p < g.planes(); ++p) {
      const float* src = in + p * out_plane;
      float* dst = out + p * in_plane;
      std::fill(dst, dst + in_plane, 0.f);
      for (const PoolWindow& wd : w.dims[0])
        for (const PoolWindow& wh : w.dims[1]) {
          std::fill(row.begin(), row.end(), 0.f);
          for (const PoolWindow& ww : w.dims[2]) {
            const float share = *src++ / static_cast<float>(g.divisor(wd, wh, ww));
            for (int64_t i = ww.begin; i < ww.end; ++i) row[i] += share;
          }
          for (int64_t d = wd.begin; d < wd.end; ++d)
            for (int64_t h = wh.begin; h < wh.end; ++h) {
              float* target = dst + (d * H + h) * W;
#pragma omp simd
              for (int64_t i = 0; i < W; ++i) target[i] += row[i];
            }
        }
    }
  }
  return gx;
}

namespace {

// Average pooling of a plain input, and max pooling of LeNet's 2x2 windows.
bool supports(const PoolGeom& g, DType dtype) {
  if (dtype != DType::F32 || g.layout != Layout::Strided) return false;
  return g.mode == PoolMode::Avg || is_two_by_two(g);
}

// Max pooling's workspace is its plain input: backward finds each window's maximum again.
PoolForward forward(const PoolGeom& g, const Tensor& x, bool keep_workspace) {
  if (g.mode == PoolMode::Avg) return {avg_forward(g, x), {}};
  const Tensor xc = in_plain_layout(x);
  Tensor y = empty(g.y_shape());
  two_by_two_forward(g, xc.data<float>(), y.mutable_data<float>());
  return {y, keep_workspace ? xc : Tensor()};
}

Tensor backward(const PoolGeom& g, const Tensor& grad_y, const Tensor& workspace) {
  if (g.mode == PoolMode::Avg) return avg_backward(g, grad_y);
  const Tensor gyc = in_plain_layout(grad_y);
  Tensor gx = empty(g.x_shape());
  two_by_two_backward(g, gyc.data<float>(), workspace.data<float>(), gx.mutable_data<float>());
  return gx;
}

const PoolKernels kPlainPool{supports, forward, backward};
STRATA_REGISTER_RANKED_KERNELS(PoolKernels, Backend::Dnnl, 0, kPlainPool);

}  // namespace
}  // namespace strata::cpu::plain_pool
