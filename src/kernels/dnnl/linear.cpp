// The linear layer on oneDNN's matmul primitive (LinearKernels, ops/linear.hpp): x (N, in),
// weight (out, in) as PyTorch. Every operand is read in place, in its plain layout, transposed
// through the memory descriptor's strides where needed; nothing is reordered. (The inner-product
// primitive this replaced wanted its weights in a blocked format: three weight-sized reorders per
// training step, 0.24 ms of LeNet's ~8 ms, and 3 x 105 MB for AlexNet's first dense layer.)
//   forward:          y (N, out)   = x (N, in) * W^T (in, out)  + bias
//   backward data:    gx (N, in)   = gy (N, out) * W (out, in)
//   backward weights: gW (out, in) = gy^T (out, N) * x (N, in)
#include "core/dispatch.hpp"
#include "kernels/cpu/plain.hpp"
#include "kernels/dnnl/context.hpp"
#include "ops/linear.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

memory::desc md(memory::dims d, tag t) { return memory::desc(d, memory::data_type::f32, t); }

struct Plan {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
};

// c (m, n) = a (m, k) b (k, n) [+ bias (1, n)]; a_t / b_t: a stored as (k, m), b as (n, k), row-major.
const Plan& matmul_plan(int64_t m, int64_t k, int64_t n, bool a_t, bool b_t, bool bias) {
  static Cache<Plan> cache;
  return cache.get(Key().add(m).add(k).add(n).add(a_t).add(b_t).add(bias).str(), [&] {
    const memory::desc a = md({m, k}, a_t ? tag::ba : tag::ab), b = md({k, n}, b_t ? tag::ba : tag::ab);
    const memory::desc c = md({m, n}, tag::ab);
    auto desc = bias ? dnnl::matmul::desc(a, b, md({1, n}, tag::ab), c) : dnnl::matmul::desc(a, b, c);
    dnnl::matmul::primitive_desc pd(desc, engine());
    return Plan{pd, dnnl::matmul(pd)};
  });
}

// c = a b (+ bias), each tensor dense and read in place.
void run(const Plan& plan, const Tensor& a, const Tensor& b, const Tensor& bias, const Tensor& c) {
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory_of(plan.pd.src_desc(), a)},
                                       {DNNL_ARG_WEIGHTS, memory_of(plan.pd.weights_desc(), b)},
                                       {DNNL_ARG_DST, memory_of(plan.pd.dst_desc(), c)}};
  if (bias.defined()) args.emplace(DNNL_ARG_BIAS, memory_of(plan.pd.bias_desc(), bias));
  plan.prim.execute(stream(), args);
}

bool supports(const Tensor& x, const Tensor& weight) {
  return supported_dtype(x.dtype()) && x.shape()[0] > 0 && weight.numel() > 0;
}

Tensor forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const int64_t rows = x.shape()[0], in = x.shape()[1], out = weight.shape()[0];
  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  const Tensor bc = bias.defined() ? bias.detach().contiguous() : Tensor();
  Tensor y = empty({rows, out});
  run(matmul_plan(rows, in, out, false, true, bias.defined()), xc, wc, bc, y);
  return y;
}

Tensor backward_data(const Tensor& grad_y, const Tensor& weight) {
  const int64_t rows = grad_y.shape()[0], out = weight.shape()[0], in = weight.shape()[1];
  const Tensor gyc = grad_y.detach().contiguous(), wc = weight.detach().contiguous();
  Tensor gx = empty({rows, in});
  run(matmul_plan(rows, out, in, false, false, false), gyc, wc, Tensor(), gx);
  return gx;
}

Tensor backward_weight(const Tensor& grad_y, const Tensor& x) {
  const int64_t rows = grad_y.shape()[0], out = grad_y.shape()[1], in = x.shape()[1];
  const Tensor gyc = grad_y.detach().contiguous(), xc = x.detach().contiguous();
  Tensor gw = empty({out, in});
  run(matmul_plan(out, rows, in, true, false, false), gyc, xc, Tensor(), gw);
  return gw;
}

const LinearKernels kDnnlLinear{supports, forward, backward_data, backward_weight, cpu::column_sums};
STRATA_REGISTER_KERNELS(LinearKernels, Backend::Dnnl, kDnnlLinear);

}  // namespace
}  // namespace strata::dnnl_backend
