// Padding (strata::pad): the geometry every kernel takes, and the kernel contract.
//
// Layouts: any rank up to kMaxDims; kernels see dense row-major tensors.
#pragma once

#include <string>
#include <vector>

#include "strata/ops.hpp"

namespace strata {

const char* pad_mode_name(PadMode mode);  // "constant", "reflect", "edge" (ONNX's names)

struct PadGeom {
  Shape x, y;                   // input and output shapes; y[d] = x[d] + before[d] + after[d]
  std::vector<int64_t> before;  // per dimension, negative to crop
  std::vector<int64_t> after;
  PadMode mode = PadMode::Constant;
  double value = 0.0;  // Constant mode's

  // Checks pads (2 * x.ndim() values: the starts, then the ends) against x for `mode`, naming the
  // op and the dimension: the output must not be negative, Reflect needs each amount below the
  // dimension's size, Edge a nonempty dimension where it pads.
  static PadGeom make(const Shape& x, const std::vector<int64_t>& pads, PadMode mode, double value);

  // The index of x that output index o of dimension d copies, or -1 for a constant element.
  int64_t source(int d, int64_t o) const;
};

struct PadKernels {
  bool (*supports)(const PadGeom& g, DType dtype);
  Tensor (*forward)(const PadGeom& g, const Tensor& x);  // -> y
  // grad_x[i] = the sum of grad_y over the output elements that copy x[i].
  Tensor (*backward)(const PadGeom& g, const Tensor& grad_y);
};

}  // namespace strata
