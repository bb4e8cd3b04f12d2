// Pooling 2-D and 3-D (max, average, adaptive average): geometry, validation and the kernel
// contract.
//
// Layouts (logical, row-major): x (N, C, D, H, W), y (N, C, OD, OH, OW). A 2-D pooling is the
// 3-D one with D = KD = OD = 1, stride 1 and padding 0 in the D slot (see ops/window.hpp), so
// every kernel implements the 3-D case only. Each (n, c) plane is pooled independently.
#pragma once

#include <algorithm>

#include "ops/window.hpp"
#include "strata/tensor.hpp"

namespace strata {

// The input range one output reads along one dim, as PyTorch's CPU kernels define it.
struct PoolWindow {
  int64_t begin = 0, end = 0;  // [begin, end): the window clipped to the input, never empty
  int64_t span = 0;            // the window clipped to the padded input (the count_include_pad divisor)
};

struct PoolGeom {
  const char* op = "max_pool2d";  // for messages
  int nd = 2;                     // spatial dims of the user's tensors: 2 or 3
  PoolMode mode = PoolMode::Max;
  int64_t batch = 0, channels = 0;
  Spatial in{}, kernel{}, stride{}, padding{}, out{};
  bool ceil_mode = false;
  bool count_include_pad = true;  // PoolMode::Avg only
  Layout layout = Layout::Strided;  // the input's (some kernels take one layout only)
  bool inference = false;  // no gradient wanted: no workspace, no backward (some kernels take only this)

  // Validates every argument (throws strata::Error naming op, argument and values) and computes
  // the output size per dimension as PyTorch's pooling_output_shape:
  //   out = floor((n + 2p - k) / s) + 1, or with ceil_mode ceil((n + 2p - k) / s) + 1, less one
  //   when that last window would start in the right padding ((out - 1) s >= n + p).
  // Requires 0 <= p <= k/2 and out >= 1 (so every window holds at least one input element).
  static PoolGeom make(const char* op, int nd, PoolMode mode, const Shape& x, const PoolOptions& options);

  // Output o along dim: start = o s - p; begin/end = [start, start + k) clipped to [0, n);
  // span = min(start + k, n + p) - start (the part past the padding that ceil_mode adds is excluded).
  PoolWindow window(int dim, int64_t o) const {
    const int64_t start = o * stride[dim] - padding[dim];
    const int64_t stop = std::min(start + kernel[dim], in[dim] + padding[dim]);
    return {std::max<int64_t>(start, 0), std::min(stop, in[dim]), stop - start};
  }
  // Average pooling's divisor for the window (wd, wh, ww): the padded spans when
  // count_include_pad, else the number of input elements.
  int64_t divisor(const PoolWindow& wd, const PoolWindow& wh, const PoolWindow& ww) const {
    if (count_include_pad) return wd.span * wh.span * ww.span;
    return (wd.end - wd.begin) * (wh.end - wh.begin) * (ww.end - ww.begin);
  }

  int64_t planes() const { return batch * channels; }
  int64_t in_spatial() const { return in[0] * in[1] * in[2]; }
  int64_t out_spatial() const { return out[0] * out[1] * out[2]; }
  // Shapes in the user's rank (4-D for 2-D pooling, 5-D for 3-D).
  Shape x_shape() const;
  Shape y_shape() const;
};

// Adaptive average pooling to a given output size: output o along a dim of input size n averages
// the bin [floor(o n / out), ceil((o + 1) n / out)). Bins overlap when out does not divide n.
struct AdaptivePoolGeom {
  const char* op = "adaptive_avg_pool2d";  // for messages
  int nd = 2;
  int64_t batch = 0, channels = 0;
  Spatial in{}, out{};

  // Validates the input rank and sizes and the output size (every value positive).
  static AdaptivePoolGeom make(const char* op, int nd, const Shape& x, const Dims& output_size);

  PoolWindow bin(int dim, int64_t o) const {
    const int64_t begin = o * in[dim] / out[dim];
    const int64_t end = ((o + 1) * in[dim] + out[dim] - 1) / out[dim];
    return {begin, end, end - begin};
  }

  int64_t planes() const { return batch * channels; }
  int64_t in_spatial() const { return in[0] * in[1] * in[2]; }
  int64_t out_spatial() const { return out[0] * out[1] * out[2]; }
  Shape x_shape() const;
  Shape y_shape() const;
};

// A pooling's output and what its backward needs.
struct PoolForward {
  Tensor y;
  // Max pooling only, when asked for: backend-defined state that backward of the same kernel
  // table reads. Ref: I64 (N, C, OD, OH, OW), the flat offset id*H*W + ih*W + iw of each output's
  // maximum within its input plane (PyTorch's return_indices); oneDNN: its pooling workspace.
  Tensor workspace;
};

// Tensors passed to kernels have the shapes above; kernels return new tensors. backward receives
// the workspace its own table's forward produced: the op keeps the table that ran the forward
// pass for the backward pass.
struct PoolKernels {
  bool (*supports)(const PoolGeom& g, DType dtype);
  PoolForward (*forward)(const PoolGeom& g, const Tensor& x, bool keep_workspace);
  Tensor (*backward)(const PoolGeom& g, const Tensor& grad_y, const Tensor& workspace);
};

struct AdaptivePoolKernels {
  bool (*supports)(const AdaptivePoolGeom& g, DType dtype);
  Tensor (*forward)(const AdaptivePoolGeom& g, const Tensor& x);
  Tensor (*backward)(const AdaptivePoolGeom& g, const Tensor& grad_y);
};

}  // namespace strata
