// Elementwise kernels: arithmetic with broadcasting, unary math, copies and fills.
// Operands may have any strides (expanded broadcast views have stride 0); outputs are dense.
#pragma once

#include "strata/tensor.hpp"

namespace strata {

enum class BinaryOp : uint8_t { Add, Sub, Mul, Div };

// y = f(x, s) for a scalar parameter s.
enum class UnaryOp : uint8_t {
  Neg,        // -x
  Exp,        // exp(x)
  Log,        // log(x)
  Sqrt,       // sqrt(x)
  Abs,        // |x|
  Sign,       // -1, 0, 1
  Pow,        // x^s
  AddScalar,  // x + s
  MulScalar,  // x * s
  RSubScalar, // s - x
  RDivScalar, // s / x
};

struct ElementwiseKernels {
  // out = a op b; a and b already expanded to out's shape; out dense.
  void (*binary)(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b);
  // out = f(x, s); same shapes; out dense or any strides.
  void (*unary)(UnaryOp op, const Tensor& out, const Tensor& x, double s);
  // dst += alpha * src (same shape, any strides; src may be an expanded view).
  void (*axpy)(const Tensor& dst, const Tensor& src, double alpha);
  // dst = src converted to dst's dtype (same shape, any strides).
  void (*copy)(const Tensor& dst, const Tensor& src);
  void (*fill)(const Tensor& dst, double value);
};

// The view of `t` broadcast to `shape` (stride 0 on broadcast dims).
Tensor expand_to(const Tensor& t, const Shape& shape);
// Sums `grad` over the dims that broadcasting added or expanded, giving a tensor of `shape`.
Tensor sum_to(const Tensor& grad, const Shape& shape);

}  // namespace strata
