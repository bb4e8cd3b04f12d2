// The linear layer on oneDNN's inner product (LinearKernels, ops/linear.hpp): x (N, in),
// weight (out, in) as PyTorch, reordered per call to the primitive's preferred format.
#include "core/dispatch.hpp"
#include "kernels/dnnl/context.hpp"
#include "ops/linear.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

memory::desc md(memory::dims d, tag t) { return memory::desc(d, memory::data_type::f32, t); }

struct Plans {
  dnnl::inner_product_forward::primitive_desc fwd_pd;
  dnnl::inner_product_forward fwd;
  dnnl::inner_product_backward_data::primitive_desc bwd_data_pd;
  dnnl::inner_product_backward_data bwd_data;
  dnnl::inner_product_backward_weights::primitive_desc bwd_weights_pd;
  dnnl::inner_product_backward_weights bwd_weights;
};

const Plans& plans(int64_t rows, int64_t in, int64_t out, bool bias) {
  static Cache<Plans> cache;
  const std::string key = Key().add(rows).add(in).add(out).add(bias).str();
  return cache.get(key, [&] {
    const memory::desc src = md({rows, in}, tag::ab), dst = md({rows, out}, tag::ab);
    const memory::desc weights = md({out, in}, tag::any), b = md({out}, tag::a);
    auto fdesc = bias ? dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_training, src, weights, b, dst)
                      : dnnl::inner_product_forward::desc(dnnl::prop_kind::forward_training, src, weights, dst);
    dnnl::inner_product_forward::primitive_desc fpd(fdesc, engine());
    dnnl::inner_product_backward_data::primitive_desc dpd(
        dnnl::inner_product_backward_data::desc(src, weights, dst), engine(), fpd);
    auto wdesc = bias ? dnnl::inner_product_backward_weights::desc(src, weights, b, dst)
                      : dnnl::inner_product_backward_weights::desc(src, weights, dst);
    dnnl::inner_product_backward_weights::primitive_desc wpd(wdesc, engine(), fpd);
    return Plans{fpd, dnnl::inner_product_forward(fpd), dpd, dnnl::inner_product_backward_data(dpd),
                 wpd, dnnl::inner_product_backward_weights(wpd)};
  });
}

bool supports(const Tensor& x, const Tensor& weight) {
  return supported_dtype(x.dtype()) && x.shape()[0] > 0 && weight.numel() > 0;
}

memory user_weights(const Tensor& w) { return memory_of(md({w.shape()[0], w.shape()[1]}, tag::ab), w); }

Tensor forward(const Tensor& x, const Tensor& weight, const Tensor& bias) {
  const Plans& p = plans(x.shape()[0], x.shape()[1], weight.shape()[0], bias.defined());
  const Tensor xc = x.detach().contiguous(), wc = weight.detach().contiguous();
  Tensor y = empty({x.shape()[0], weight.shape()[0]});
  Tensor holder;
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory_of(xc)},
                                       {DNNL_ARG_WEIGHTS, reorder_to(p.fwd_pd.weights_desc(), user_weights(wc), holder)},
                                       {DNNL_ARG_DST, memory_of(y)}};
  Tensor bc;
  if (bias.defined()) {
    bc = bias.detach().contiguous();
    args.emplace(DNNL_ARG_BIAS, memory_of(bc));
  }
  p.fwd.execute(stream(), args);
  return y;
}

Tensor backward_data(const Tensor& grad_y, const Tensor& weight) {
  const int64_t rows = grad_y.shape()[0], out = weight.shape()[0], in = weight.shape()[1];
  const Plans& p = plans(rows, in, out, false);
  const Tensor gyc = grad_y.detach().contiguous(), wc = weight.detach().contiguous();
  Tensor gx = empty({rows, in});
  Tensor holder;
  p.bwd_data.execute(stream(), {{DNNL_ARG_DIFF_DST, memory_of(gyc)},
                                {DNNL_ARG_WEIGHTS, reorder_to(p.bwd_data_pd.weights_desc(), user_weights(wc), holder)},
                                {DNNL_ARG_DIFF_SRC, memory_of(gx)}});
  return gx;
}

Tensor backward_weight(const Tensor& grad_y, const Tensor& x) {
  const int64_t rows = grad_y.shape()[0], out = grad_y.shape()[1], in = x.shape()[1];
  const Plans& p = plans(rows, in, out, false);
  const Tensor gyc = grad_y.detach().contiguous(), xc = x.detach().contiguous();
  Tensor gw = empty({out, in});
  memory user = user_weights(gw);
  const memory::desc want = p.bwd_weights_pd.diff_weights_desc();
  Tensor holder;
  memory target = user;
  if (want != user.get_desc()) {
    holder = empty({static_cast<int64_t>((want.get_size() + 3) / 4)});
    target = memory(want, engine(), holder.raw_data());
  }
  p.bwd_weights.execute(stream(), {{DNNL_ARG_SRC, memory_of(xc)}, {DNNL_ARG_DIFF_DST, memory_of(gyc)},
                                   {DNNL_ARG_DIFF_WEIGHTS, target}});
  if (want != user.get_desc()) dnnl::reorder(target, user).execute(stream(), target, user);
  return gw;
}

// grad_b (out) = column sums of grad_y (N, out).
Tensor backward_bias(const Tensor& grad_y) {
  const Tensor g = grad_y.detach().contiguous();
  const int64_t rows = g.shape()[0], out = g.shape()[1];
  Tensor gb = zeros({out});
  float* pb = gb.data<float>();
  const float* pg = g.data<float>();
  for (int64_t r = 0; r < rows; ++r)
#pragma omp simd
    for (int64_t o = 0; o < out; ++o) pb[o] += pg[r * out + o];
  return gb;
}

const LinearKernels kDnnlLinear{supports, forward, backward_data, backward_weight, backward_bias};
STRATA_REGISTER_KERNELS(LinearKernels, Backend::Dnnl, kDnnlLinear);

}  // namespace
}  // namespace strata::dnnl_backend
