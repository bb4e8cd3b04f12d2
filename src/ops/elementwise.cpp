// Elementwise arithmetic with broadcasting and its gradients; in-place updates.
#include "ops/elementwise.hpp"

#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "core/tensor_impl.hpp"
#include "graph/trace.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

const ElementwiseKernels& kernels_for(const Tensor& t) {
  return select_kernels<ElementwiseKernels>("elementwise", t.device());
}

void check_operands(const char* op, const Tensor& a, const Tensor& b) {
  STRATA_CHECK(a.defined() && b.defined(), op, ": operand is an undefined tensor");
  STRATA_CHECK(a.dtype() == b.dtype(), op, ": operands have different dtypes (", dtype_name(a.dtype()),
               " and ", dtype_name(b.dtype()), ")");
  STRATA_CHECK(is_floating(a.dtype()), op, ": expected floating-point operands, got ", dtype_name(a.dtype()));
  STRATA_CHECK(a.device() == b.device(), op, ": operands are on different devices (", a.device().str(),
               " and ", b.device().str(), ")");
}

// The kernels take Strided operands. Blocked16 operands of one shape are passed as flat views
// (elementwise results do not depend on the arrangement) and the result stays Blocked16; a
// Blocked16 operand meeting anything else is converted to Strided.
Tensor strided(const Tensor& t) { return t.layout() == Layout::Strided ? t : to_layout(t.detach(), Layout::Strided); }

bool both_blocked(const Tensor& a, const Tensor& b) {
  return a.layout() == Layout::Blocked16 && b.layout() == Layout::Blocked16 && a.shape() == b.shape();
}

Tensor binary_forward(BinaryOp op, const char* name, const Tensor& a, const Tensor& b) {
  check_operands(name, a, b);
  if (both_blocked(a, b)) {
    Tensor out = empty_in(a.shape(), a.dtype(), a.device(), Layout::Blocked16);
    kernels_for(out).binary(op, flat_view(out), flat_view(a), flat_view(b));
    return out;
  }
  const Shape shape = broadcast_shapes(a.shape(), b.shape(), name);
  Tensor out = empty(shape, a.dtype(), a.device());
  kernels_for(out).binary(op, out, expand_to(strided(a), shape), expand_to(strided(b), shape));
  return out;
}

Tensor unary_forward(UnaryOp op, const char* name, const Tensor& x, double s) {
  STRATA_CHECK(x.defined(), name, ": operand is an undefined tensor");
  STRATA_CHECK(is_floating(x.dtype()), name, ": expected a floating-point tensor, got ", dtype_name(x.dtype()));
  Tensor out = empty_in(x.shape(), x.dtype(), x.device(), x.layout());
  if (x.layout() == Layout::Strided) kernels_for(out).unary(op, out, x, s);
  else kernels_for(out).unary(op, flat_view(out), flat_view(x), s);
  return out;
}

void check_inplace(const Tensor& t, const char* op) {
  STRATA_CHECK(t.defined(), op, ": called on an undefined tensor");
  STRATA_CHECK(!(GradMode::is_enabled() && t.requires_grad()), op,
               ": in-place update of a tensor that requires grad; wrap it in a NoGradGuard "
               "(as optimizers do) or update a detached copy");
  for (int i = 0; i < t.ndim(); ++i)
    STRATA_CHECK(t.strides()[i] != 0 || t.shape()[i] <= 1, op, ": cannot write into an expanded tensor (shape ",
                 t.shape(), ", strides ", t.strides(), "): several elements share one memory location; "
                 "clone() it first");
}

// Whether `from` broadcasts to exactly `to` (NumPy rules, `to` unchanged).
bool broadcasts_to(const Shape& from, const Shape& to) {
  if (from.ndim() > to.ndim()) return false;
  for (int i = 0; i < from.ndim(); ++i) {
    const int64_t f = from[i], t = to[i + to.ndim() - from.ndim()];
    if (f != t && f != 1) return false;
  }
  return true;
}

// `src` as an operand for an in-place update of `dst`: a private copy when it is another view of
// dst's memory (x.copy_(x.t()) would otherwise read elements it has already overwritten).
Tensor unaliased_source(const Tensor& dst, const Tensor& src) {
  const bool same_view = src.storage() == dst.storage() && src.offset() == dst.offset() &&
                         src.shape() == dst.shape() && src.strides() == dst.strides();
  if (src.storage() != dst.storage() || same_view) return src;
  return src.detach().clone();
}

}  // namespace

Tensor expand_to(const Tensor& t, const Shape& shape) {
  if (t.shape() == shape) return t;
  Shape strides;
  const int lead = shape.ndim() - t.ndim();
  STRATA_CHECK(lead >= 0, "expand: cannot expand shape ", t.shape(), " to ", shape);
  for (int i = 0; i < shape.ndim(); ++i) {
    const int j = i - lead;
    if (j < 0) {
      strides.push_back(0);
    } else if (t.shape()[j] == shape[i]) {
      strides.push_back(t.strides()[j]);
    } else {
      STRATA_CHECK(t.shape()[j] == 1, "expand: cannot expand shape ", t.shape(), " to ", shape);
      strides.push_back(0);
    }
  }
  return make_view(t, shape, strides, t.offset());
}

Tensor sum_to(const Tensor& grad, const Shape& shape) {
  if (grad.shape() == shape) return grad;
  std::vector<int> dims;
  const int lead = grad.ndim() - shape.ndim();
  for (int i = 0; i < grad.ndim(); ++i)
    if (i < lead || (shape[i - lead] == 1 && grad.shape()[i] != 1)) dims.push_back(i);
  Tensor summed = dims.empty() ? grad : grad.sum(dims, /*keepdim=*/true);
  return summed.reshape(shape);
}

Tensor add(const Tensor& a, const Tensor& b) {
  graph::OpTrace trace;
  Tensor out = binary_forward(BinaryOp::Add, "add", a, b);
  if (trace.recording()) trace.record(graph::OpKind::Add, {}, {a, b}, out);
  if (autograd::needs_grad({a, b}))
    autograd::record("add", out, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& gy, const autograd::Node& node) {
      return std::vector<Tensor>{node.needs_input_grad(0) ? sum_to(gy, sa) : Tensor(),
                                 node.needs_input_grad(1) ? sum_to(gy, sb) : Tensor()};
    });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  graph::OpTrace trace;
  Tensor out = binary_forward(BinaryOp::Sub, "sub", a, b);
  if (trace.recording()) trace.record(graph::OpKind::Binary, graph::BinaryAttrs{graph::BinaryKind::Sub}, {a, b}, out);
  if (autograd::needs_grad({a, b}))
    autograd::record("sub", out, {a, b}, [sa = a.shape(), sb = b.shape()](const Tensor& gy, const autograd::Node& node) {
      return std::vector<Tensor>{node.needs_input_grad(0) ? sum_to(gy, sa) : Tensor(),
                                 node.needs_input_grad(1) ? sum_to(-gy, sb) : Tensor()};
    });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  graph::OpTrace trace;
  Tensor out = binary_forward(BinaryOp::Mul, "mul", a, b);
  if (trace.recording()) trace.record(graph::OpKind::Binary, graph::BinaryAttrs{graph::BinaryKind::Mul}, {a, b}, out);
  if (autograd::needs_grad({a, b}))
    autograd::record("mul", out, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& gy, const autograd::Node& node) {
      return std::vector<Tensor>{node.needs_input_grad(0) ? sum_to(gy * b, a.shape()) : Tensor(),
                                 node.needs_input_grad(1) ? sum_to(gy * a, b.shape()) : Tensor()};
    });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  graph::OpTrace trace;
  Tensor out = binary_forward(BinaryOp::Div, "div", a, b);
  if (trace.recording()) trace.record(graph::OpKind::Binary, graph::BinaryAttrs{graph::BinaryKind::Div}, {a, b}, out);
  if (autograd::needs_grad({a, b}))
    autograd::record("div", out, {a, b}, [a = a.detach(), b = b.detach()](const Tensor& gy, const autograd::Node& node) {
      return std::vector<Tensor>{node.needs_input_grad(0) ? sum_to(gy / b, a.shape()) : Tensor(),
                                 node.needs_input_grad(1) ? sum_to(-(gy * a) / (b * b), b.shape()) : Tensor()};
    });
  return out;
}

Tensor operator+(const Tensor& a, const Tensor& b) { return add(a, b); }
Tensor operator-(const Tensor& a, const Tensor& b) { return sub(a, b); }
Tensor operator*(const Tensor& a, const Tensor& b) { return mul(a, b); }
Tensor operator/(const Tensor& a, const Tensor& b) { return div(a, b); }

// ---- Scalar and unary ops ----

namespace {

// y = f(x, s) whose gradient is gy * dfdx(x, y).
template <class Grad>
Tensor unary_op(UnaryOp op, const char* name, const Tensor& x, double s, Grad grad) {
  Tensor out = unary_forward(op, name, x, s);
  if (autograd::needs_grad({x}))
    autograd::record(name, out, {x}, [grad, x = x.detach(), y = out.detach()](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{grad(gy, x, y)};
    });
  return out;
}

}  // namespace

namespace {

// A scalar op, recorded as a graph node while tracing.
template <class F>
Tensor traced_scalar(graph::ScalarKind kind, const Tensor& x, double s, F compute) {
  graph::OpTrace trace;
  Tensor out = compute();
  if (trace.recording()) trace.record(graph::OpKind::Scalar, graph::ScalarAttrs{kind, s}, {x}, out);
  return out;
}

}  // namespace

Tensor operator+(const Tensor& a, double b) {
  return traced_scalar(graph::ScalarKind::Add, a, b, [&] {
    return unary_op(UnaryOp::AddScalar, "add", a, b, [](const Tensor& gy, const Tensor&, const Tensor&) { return gy; });
  });
}
Tensor operator-(const Tensor& a, double b) { return a + (-b); }
Tensor operator*(const Tensor& a, double b) {
  return traced_scalar(graph::ScalarKind::Mul, a, b, [&] {
    return unary_op(UnaryOp::MulScalar, "mul", a, b,
                    [b](const Tensor& gy, const Tensor&, const Tensor&) { return gy * b; });
  });
}
Tensor operator/(const Tensor& a, double b) {
  STRATA_CHECK(b != 0.0, "div: division by the scalar zero");
  return a * (1.0 / b);
}
Tensor operator+(double a, const Tensor& b) { return b + a; }
Tensor operator-(double a, const Tensor& b) {
  return traced_scalar(graph::ScalarKind::ReverseSub, b, a, [&] {
    return unary_op(UnaryOp::RSubScalar, "rsub", b, a,
                    [](const Tensor& gy, const Tensor&, const Tensor&) { return -gy; });
  });
}
Tensor operator*(double a, const Tensor& b) { return b * a; }
Tensor operator/(double a, const Tensor& b) {
  return traced_scalar(graph::ScalarKind::ReverseDiv, b, a, [&] {
    return unary_op(UnaryOp::RDivScalar, "rdiv", b, a,
                    [](const Tensor& gy, const Tensor& x, const Tensor& y) { return -(gy * y) / x; });
  });
}

Tensor Tensor::operator-() const {
  return unary_op(UnaryOp::Neg, "neg", *this, 0.0, [](const Tensor& gy, const Tensor&, const Tensor&) {
    return unary_forward(UnaryOp::Neg, "neg", gy, 0.0);
  });
}

Tensor Tensor::exp() const {
  return unary_op(UnaryOp::Exp, "exp", *this, 0.0, [](const Tensor& gy, const Tensor&, const Tensor& y) { return gy * y; });
}

Tensor Tensor::log() const {
  return unary_op(UnaryOp::Log, "log", *this, 0.0, [](const Tensor& gy, const Tensor& x, const Tensor&) { return gy / x; });
}

Tensor Tensor::sqrt() const {
  return unary_op(UnaryOp::Sqrt, "sqrt", *this, 0.0,
                  [](const Tensor& gy, const Tensor&, const Tensor& y) { return gy * 0.5 / y; });
}

Tensor Tensor::pow(double exponent) const {
  return unary_op(UnaryOp::Pow, "pow", *this, exponent, [exponent](const Tensor& gy, const Tensor& x, const Tensor&) {
    // x^0 is constant: its gradient is 0 even at x = 0, where 0 * x^-1 would give nan.
    if (exponent == 0.0) return zeros_like(gy);
    return gy * (unary_forward(UnaryOp::Pow, "pow", x, exponent - 1.0) * exponent);
  });
}

Tensor Tensor::abs() const {
  return unary_op(UnaryOp::Abs, "abs", *this, 0.0, [](const Tensor& gy, const Tensor& x, const Tensor&) {
    return gy * unary_forward(UnaryOp::Sign, "abs", x, 0.0);
  });
}

// ---- In-place ----

Tensor& Tensor::fill_(double value) {
  check_inplace(*this, "fill_");
  kernels_for(*this).fill(layout() == Layout::Strided ? *this : flat_view(*this), value);
  return *this;
}

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace(*this, "copy_");
  STRATA_CHECK(src.defined(), "copy_: source is an undefined tensor");
  STRATA_CHECK(broadcasts_to(src.shape(), shape()), "copy_: source of shape ", src.shape(),
               " cannot be broadcast to ", shape());
  STRATA_CHECK(device() == src.device(), "copy_: source is on ", src.device().str(), ", destination on ",
               device().str());
  if (layout() == Layout::Blocked16) {
    STRATA_CHECK(src.shape() == shape(), "copy_: a blocked destination takes a source of its own shape ", shape(),
                 ", got ", src.shape());
    kernels_for(*this).copy(flat_view(*this), flat_view(to_layout(unaliased_source(*this, src), Layout::Blocked16)));
    return *this;
  }
  kernels_for(*this).copy(*this, expand_to(strided(unaliased_source(*this, src)), shape()));
  return *this;
}

Tensor& Tensor::add_(const Tensor& other, double alpha) {
  check_inplace(*this, "add_");
  check_operands("add_", *this, other);
  STRATA_CHECK(broadcasts_to(other.shape(), shape()), "add_: operand of shape ", other.shape(),
               " cannot be broadcast to ", shape());
  if (layout() == Layout::Blocked16) {
    STRATA_CHECK(other.shape() == shape(), "add_: a blocked destination takes an operand of its own shape ",
                 shape(), ", got ", other.shape());
    kernels_for(*this).axpy(flat_view(*this), flat_view(to_layout(unaliased_source(*this, other), Layout::Blocked16)),
                            alpha);
    return *this;
  }
  kernels_for(*this).axpy(*this, expand_to(strided(unaliased_source(*this, other)), shape()), alpha);
  return *this;
}

Tensor& Tensor::add_(double value) {
  graph::OpTrace trace;
  check_inplace(*this, "add_");
  if (is_floating(dtype())) {
    const Tensor target = layout() == Layout::Strided ? *this : flat_view(*this);
    kernels_for(*this).unary(UnaryOp::AddScalar, target, target, value);
  } else {
    STRATA_CHECK(dtype() == DType::I64 && is_contiguous(), "add_: expected a floating-point or dense I64 tensor, got ",
                 dtype_name(dtype()));
    STRATA_CHECK(value == static_cast<double>(static_cast<int64_t>(value)), "add_: ", value,
                 " is not an integer, and the tensor is I64");
    int64_t* p = mutable_data<int64_t>();
    for (int64_t i = 0; i < numel(); ++i) p[i] += static_cast<int64_t>(value);
  }
  if (trace.recording()) trace.record_in_place(graph::OpKind::AddInPlace, graph::AddInPlaceAttrs{value}, *this);
  return *this;
}

Tensor& Tensor::mul_(double value) {
  check_inplace(*this, "mul_");
  STRATA_CHECK(is_floating(dtype()), "mul_: expected a floating-point tensor, got ", dtype_name(dtype()));
  const Tensor target = layout() == Layout::Strided ? *this : flat_view(*this);
  kernels_for(*this).unary(UnaryOp::MulScalar, target, target, value);
  return *this;
}

}  // namespace strata
