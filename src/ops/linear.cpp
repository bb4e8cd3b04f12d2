// matmul and linear, with gradients.
#include "ops/linear.hpp"

#include "core/dispatch.hpp"
#include "graph/trace.hpp"
#include "ops/elementwise.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

void check_floating(const char* op, const char* what, const Tensor& t) {
  STRATA_CHECK(t.defined(), op, ": ", what, " is an undefined tensor");
  STRATA_CHECK(is_floating(t.dtype()), op, ": ", what, " must be floating-point, got ", dtype_name(t.dtype()));
}

// c (batch, m, n) = op(a) op(b) for dense 3-D a, b.
Tensor bmm(const Tensor& a, const Tensor& b, bool ta, bool tb) {
  const int64_t batch = a.shape()[0];
  const int64_t m = ta ? a.shape()[2] : a.shape()[1], k = ta ? a.shape()[1] : a.shape()[2];
  const int64_t n = tb ? b.shape()[1] : b.shape()[2];
  Tensor c = empty({batch, m, n}, a.dtype(), a.device());
  select_kernels<MatmulKernels>("matmul", a.device()).bmm(c, a.contiguous(), b.contiguous(), batch, m, n, k, ta, tb);
  return c;
}

}  // namespace

Tensor matmul(const Tensor& a_in, const Tensor& b_in) {
  check_floating("matmul", "left operand", a_in);
  check_floating("matmul", "right operand", b_in);
  STRATA_CHECK(a_in.ndim() >= 1 && b_in.ndim() >= 1, "matmul: operands must have at least one dimension, got ",
               a_in.shape(), " and ", b_in.shape());
  STRATA_CHECK(a_in.dtype() == b_in.dtype(), "matmul: operands have different dtypes (", dtype_name(a_in.dtype()),
               " and ", dtype_name(b_in.dtype()), ")");
  STRATA_CHECK(a_in.device() == b_in.device(), "matmul: operands are on different devices (", a_in.device().str(),
               " and ", b_in.device().str(), ")");
  // Vectors become matrices: a (K) -> (1, K), b (K) -> (K, 1); the added dim is dropped at the end.
  const Tensor a = a_in.ndim() == 1 ? a_in.unsqueeze(0) : a_in;
  const Tensor b = b_in.ndim() == 1 ? b_in.unsqueeze(1) : b_in;
  const int64_t m = a.size(-2), k = a.size(-1), n = b.size(-1);
  STRATA_CHECK(b.size(-2) == k, "matmul: inner dimensions differ: ", a_in.shape(), " x ", b_in.shape(), " (", k,
               " vs ", b.size(-2), ")");
  Shape batch_a, batch_b;
  for (int i = 0; i < a.ndim() - 2; ++i) batch_a.push_back(a.shape()[i]);
  for (int i = 0; i < b.ndim() - 2; ++i) batch_b.push_back(b.shape()[i]);
  const Shape batch = broadcast_shapes(batch_a, batch_b, "matmul");
  Shape full_a = batch, full_b = batch, out_shape = batch;
  full_a.push_back(m), full_a.push_back(k);
  full_b.push_back(k), full_b.push_back(n);
  out_shape.push_back(m), out_shape.push_back(n);
  const int64_t nb = batch.numel();
  Tensor a3 = expand_to(a.detach(), full_a).reshape({nb, m, k});
  Tensor b3 = expand_to(b.detach(), full_b).reshape({nb, k, n});
  Tensor out = bmm(a3, b3, false, false).reshape(out_shape);
  if (a_in.ndim() == 1) out = out.squeeze(-2);
  if (b_in.ndim() == 1) out = out.squeeze(-1);
  out = out.detach();
  if (autograd::needs_grad({a_in, b_in}))
    autograd::record("matmul", out, {a_in, b_in},
                     [a3, b3, full_a, full_b, a_shape = a.shape(), b_shape = b.shape(), sa = a_in.shape(),
                      sb = b_in.shape(), nb, m, n](const Tensor& gy, const autograd::Node& node) {
                       // Gradients in the broadcast shape, summed back over broadcast batch dims,
                       // then reshaped to undo the vector promotion.
                       const Tensor g3 = gy.reshape({nb, m, n});
                       Tensor ga, gb;
                       if (node.needs_input_grad(0))
                         ga = sum_to(bmm(g3, b3, false, true).reshape(full_a), a_shape).reshape(sa);
                       if (node.needs_input_grad(1))
                         gb = sum_to(bmm(a3, g3, true, false).reshape(full_b), b_shape).reshape(sb);
                       return std::vector<Tensor>{ga, gb};
                     });
  return out;
}

Tensor Tensor::matmul(const Tensor& other) const { return strata::matmul(*this, other); }

Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  graph::OpTrace trace;
  check_floating("linear", "input", x);
  check_floating("linear", "weight", weight);
  STRATA_CHECK(weight.ndim() == 2, "linear: weight must be 2-D (out_features, in_features), got ", weight.shape());
  STRATA_CHECK(x.ndim() >= 1, "linear: input must have at least one dimension");
  const int64_t in = weight.shape()[1], out = weight.shape()[0];
  STRATA_CHECK(x.size(-1) == in, "linear: input has ", x.size(-1), " features but weight expects ", in,
               " (input ", x.shape(), ", weight ", weight.shape(), ")");
  STRATA_CHECK(x.dtype() == weight.dtype(), "linear: input is ", dtype_name(x.dtype()), " but weight is ",
               dtype_name(weight.dtype()));
  if (bias.defined())
    STRATA_CHECK(bias.ndim() == 1 && bias.shape()[0] == out && bias.dtype() == x.dtype(), "linear: bias must be (",
                 out, ") of dtype ", dtype_name(x.dtype()), ", got ", bias.shape(), " ", dtype_name(bias.dtype()));
  const Tensor x2 = x.detach().reshape({-1, in});
  const LinearKernels& k = select_kernels<LinearKernels>("linear", x.device(), [&](const LinearKernels& t) {
    return t.supports(x2, weight);
  });
  Shape out_shape = x.shape();
  out_shape[out_shape.ndim() - 1] = out;
  Tensor y = k.forward(x2, weight.detach(), bias.defined() ? bias.detach() : Tensor()).reshape(out_shape).detach();
  if (autograd::needs_grad({x, weight, bias}))
    autograd::record("linear", y, {x, weight, bias}, [&k, x2, w = weight.detach(), xs = x.shape()](
                                                         const Tensor& gy, const autograd::Node& node) {
      const Tensor gy2 = gy.reshape({-1, w.shape()[0]});
      return std::vector<Tensor>{
          node.needs_input_grad(0) ? k.backward_data(gy2, w).reshape(xs) : Tensor(),
          node.needs_input_grad(1) ? k.backward_weight(gy2, x2) : Tensor(),
          node.needs_input_grad(2) ? k.backward_bias(gy2) : Tensor(),
      };
    });
  if (trace.recording()) trace.record(graph::OpKind::Linear, {}, {x, weight, bias}, y);
  return y;
}

}  // namespace strata
