// Pooling on oneDNN (PoolKernels, ops/pool.hpp): max and average, forward and backward, and
// adaptive average pooling when every output size divides the input size (then it is plain
// average pooling with kernel = stride = in/out). Max pooling saves oneDNN's workspace. Average
// pooling of a tensor that arrives in the plain layout ranks below Strata's own kernel
// (kernels/cpu/plain_pool.hpp), which takes it first.
#include "core/dispatch.hpp"
#include "kernels/dnnl/context.hpp"
#include "ops/pool.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;

// A pooling problem in oneDNN's terms (adaptive pooling is mapped onto this too).
struct PoolProblem {
  Shape x_shape, y_shape;
  dnnl::algorithm algorithm;
  memory::dims kernel, strides, padding_l, padding_r;

  std::string key() const {
    Key k;
    k.add(x_shape).add(y_shape).add(static_cast<int64_t>(algorithm));
    for (const auto* v : {&kernel, &strides, &padding_l, &padding_r})
      for (auto d : *v) k.add(d);
    return k.str();
  }
};

PoolProblem problem_of(const PoolGeom& g) {
  PoolProblem p{g.x_shape(), g.y_shape(), dnnl::algorithm::pooling_max, {}, {}, {}, {}};
  if (g.mode == PoolMode::Avg)
    p.algorithm = g.count_include_pad ? dnnl::algorithm::pooling_avg_include_padding
                                      : dnnl::algorithm::pooling_avg_exclude_padding;
  for (int i = 3 - g.nd; i < 3; ++i) {
    p.kernel.push_back(g.kernel[i]);
    p.strides.push_back(g.stride[i]);
    p.padding_l.push_back(g.padding[i]);
    p.padding_r.push_back((g.out[i] - 1) * g.stride[i] + g.kernel[i] - g.in[i] - g.padding[i]);
  }
  return p;
}

PoolProblem problem_of(const AdaptivePoolGeom& g) {
  PoolProblem p{g.x_shape(), g.y_shape(), dnnl::algorithm::pooling_avg_exclude_padding, {}, {}, {}, {}};
  for (int i = 3 - g.nd; i < 3; ++i) {
    const int64_t k = g.in[i] / g.out[i];
    p.kernel.push_back(k);
    p.strides.push_back(k);
    p.padding_l.push_back(0);
    p.padding_r.push_back(0);
  }
  return p;
}

struct PoolForwardPlan {
  dnnl::pooling_forward::primitive_desc pd;
  dnnl::pooling_forward prim;
};
struct PoolBackwardPlan {
  dnnl::pooling_backward::primitive_desc pd;
  dnnl::pooling_backward prim;
};

dnnl::pooling_forward::primitive_desc forward_pd(const PoolProblem& p, dnnl::prop_kind prop) {
  dnnl::pooling_forward::desc desc(prop, p.algorithm, desc_of(p.x_shape, preferred_layout(p.x_shape)),
                                   desc_of(p.y_shape, preferred_layout(p.y_shape)), p.strides, p.kernel,
                                   p.padding_l, p.padding_r);
  return dnnl::pooling_forward::primitive_desc(desc, engine());
}

const PoolForwardPlan& forward_plan(const PoolProblem& p, bool training) {
  static Cache<PoolForwardPlan> cache;
  return cache.get(p.key() + (training ? "t" : "i"), [&] {
    auto pd = forward_pd(p, training ? dnnl::prop_kind::forward_training : dnnl::prop_kind::forward_inference);
    return PoolForwardPlan{pd, dnnl::pooling_forward(pd)};
  });
}

const PoolBackwardPlan& backward_plan(const PoolProblem& p) {
  static Cache<PoolBackwardPlan> cache;
  return cache.get(p.key(), [&] {
    dnnl::pooling_backward::desc desc(p.algorithm, desc_of(p.x_shape, preferred_layout(p.x_shape)),
                                      desc_of(p.y_shape, preferred_layout(p.y_shape)), p.strides, p.kernel,
                                      p.padding_l, p.padding_r);
    dnnl::pooling_backward::primitive_desc pd(desc, engine(), forward_plan(p, true).pd);
    return PoolBackwardPlan{pd, dnnl::pooling_backward(pd)};
  });
}

// Whether oneDNN computes exactly PyTorch's result: padding must be non-negative on both sides
// (oneDNN's output-size rule), and with count_include_pad no window may reach past the right
// padding (PyTorch's divisor excludes that part, oneDNN's counts the whole kernel).
bool supports(const PoolGeom& g, DType dtype) {
  if (!supported_dtype(dtype)) return false;
  const PoolProblem p = problem_of(g);
  for (std::size_t i = 0; i < p.padding_r.size(); ++i) {
    if (p.padding_r[i] < 0) return false;
    if (p.algorithm == dnnl::algorithm::pooling_avg_include_padding && p.padding_r[i] > p.padding_l[i]) return false;
  }
  return true;
}

bool supports_adaptive(const AdaptivePoolGeom& g, DType dtype) {
  if (!supported_dtype(dtype)) return false;
  for (int i = 0; i < 3; ++i)
    if (g.in[i] % g.out[i] != 0) return false;
  return true;
}

Tensor run_forward(const PoolProblem& p, const Tensor& x, bool training, Tensor* workspace) {
  const PoolForwardPlan& plan = forward_plan(p, training);
  const Tensor src = in_preferred_layout(x);
  Tensor y = empty_preferred(p.y_shape);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, memory_of(src)}, {DNNL_ARG_DST, memory_of(y)}};
  if (workspace != nullptr) {
    *workspace = empty({static_cast<int64_t>((plan.pd.workspace_desc().get_size() + 3) / 4)});
    args.emplace(DNNL_ARG_WORKSPACE, memory(plan.pd.workspace_desc(), engine(), workspace->mutable_raw_data()));
  }
  plan.prim.execute(stream(), args);
  return y;
}

Tensor run_backward(const PoolProblem& p, const Tensor& gy, const Tensor* workspace) {
  const PoolBackwardPlan& plan = backward_plan(p);
  const Tensor diff_dst = in_preferred_layout(gy);
  Tensor gx = empty_preferred(p.x_shape);
  std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, memory_of(diff_dst)}, {DNNL_ARG_DIFF_SRC, memory_of(gx)}};
  if (workspace != nullptr)
    args.emplace(DNNL_ARG_WORKSPACE, memory(plan.pd.workspace_desc(), engine(), workspace->mutable_raw_data()));
  plan.prim.execute(stream(), args);
  return gx;
}

PoolForward forward(const PoolGeom& g, const Tensor& x, bool keep_workspace) {
  PoolForward f;
  f.y = run_forward(problem_of(g), x, keep_workspace, keep_workspace ? &f.workspace : nullptr);
  return f;
}

Tensor backward(const PoolGeom& g, const Tensor& gy, const Tensor& workspace) {
  return run_backward(problem_of(g), gy, workspace.defined() ? &workspace : nullptr);
}

Tensor adaptive_forward(const AdaptivePoolGeom& g, const Tensor& x) {
  return run_forward(problem_of(g), x, false, nullptr);
}
Tensor adaptive_backward(const AdaptivePoolGeom& g, const Tensor& gy) {
  return run_backward(problem_of(g), gy, nullptr);
}

const PoolKernels kDnnlPool{supports, forward, backward};
STRATA_REGISTER_KERNELS(PoolKernels, Backend::Dnnl, kDnnlPool);
const AdaptivePoolKernels kDnnlAdaptivePool{supports_adaptive, adaptive_forward, adaptive_backward};
STRATA_REGISTER_KERNELS(AdaptivePoolKernels, Backend::Dnnl, kDnnlAdaptivePool);

}  // namespace
}  // namespace strata::dnnl_backend
