// Every strata::Activation on oneDNN's eltwise primitives (ActivationKernels, ops/activation.hpp).
// Elementwise results do not depend on the arrangement, so a tensor of any dense layout is
// passed as one flat vector and the output keeps the input's layout. Each activation is one
// eltwise algorithm but hardsigmoid, which oneDNN 2.6 lacks: eltwise_linear (alpha x + beta), then
// clip_v2 to [0, 1]. Backward uses the "use_dst_for_bwd" algorithms where the derivative is a
// function of y, and the plain ones on the saved input x otherwise (hardswish).
#include "kernels/dnnl/activation.hpp"

#include <bit>
#include <vector>

#include "core/dispatch.hpp"
#include "ops/activation.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;
using dnnl::algorithm;

// One eltwise primitive's algorithm and parameters.
struct Eltwise {
  algorithm alg;
  float alpha = 0.f, beta = 0.f;
};

// The forward steps of `a`, applied in order.
std::vector<Eltwise> forward_steps(const Activation& a) {
  const auto alpha = static_cast<float>(a.alpha), beta = static_cast<float>(a.beta);
  switch (a.kind) {
    case ActivationKind::Relu:
      return {{algorithm::eltwise_relu}};
    case ActivationKind::Sigmoid:
      return {{algorithm::eltwise_logistic}};
    case ActivationKind::Tanh:
      return {{algorithm::eltwise_tanh}};
    case ActivationKind::Relu6:
      return {{algorithm::eltwise_clip_v2, 0.f, 6.f}};
    case ActivationKind::LeakyRelu:
      return {{algorithm::eltwise_relu, alpha}};
    case ActivationKind::HardSigmoid:
      return {{algorithm::eltwise_linear, alpha, beta}, {algorithm::eltwise_clip_v2, 0.f, 1.f}};
    case ActivationKind::HardSwish:
      return {{algorithm::eltwise_hardswish}};
    case ActivationKind::Clamp:
      return {{algorithm::eltwise_clip_v2, alpha, beta}};
  }
  return {};
}

// The one algorithm of a's backward (what the derivative reads: y, or x where
// !a.derivative_from_y()); hardsigmoid's is clip_v2's from y, then times alpha.
Eltwise backward_step(const Activation& a) {
  const auto alpha = static_cast<float>(a.alpha), beta = static_cast<float>(a.beta);
  switch (a.kind) {
    case ActivationKind::Relu:
      return {algorithm::eltwise_relu_use_dst_for_bwd};
    case ActivationKind::Sigmoid:
      return {algorithm::eltwise_logistic_use_dst_for_bwd};
    case ActivationKind::Tanh:
      return {algorithm::eltwise_tanh_use_dst_for_bwd};
    case ActivationKind::Relu6:
      return {algorithm::eltwise_clip_v2_use_dst_for_bwd, 0.f, 6.f};
    case ActivationKind::LeakyRelu:
      return {a.derivative_from_y() ? algorithm::eltwise_relu_use_dst_for_bwd : algorithm::eltwise_relu, alpha};
    case ActivationKind::HardSigmoid:
      return {algorithm::eltwise_clip_v2_use_dst_for_bwd, 0.f, 1.f};
    case ActivationKind::HardSwish:
      return {algorithm::eltwise_hardswish};
    case ActivationKind::Clamp:
      return {algorithm::eltwise_clip_v2_use_dst_for_bwd, alpha, beta};
  }
  return {algorithm::eltwise_relu_use_dst_for_bwd};
}

Key& add_to(Key& key, const Eltwise& e) {
  return key.add(static_cast<int64_t>(e.alg)).add(std::bit_cast<int32_t>(e.alpha)).add(std::bit_cast<int32_t>(e.beta));
}

std::string key_of(const Eltwise& e, int64_t n) {
  Key key;
  return add_to(key, e).add(n).str();
}

memory::desc flat_desc(int64_t n) { return memory::desc({n}, memory::data_type::f32, memory::format_tag::a); }

struct EltwiseForwardPlan {
  dnnl::eltwise_forward::primitive_desc pd;
  dnnl::eltwise_forward prim;
};
struct EltwiseBackwardPlan {
  dnnl::eltwise_backward::primitive_desc pd;
  dnnl::eltwise_backward prim;
};

const EltwiseForwardPlan& forward_plan(const Eltwise& e, int64_t n) {
  static Cache<EltwiseForwardPlan> cache;
  return cache.get(key_of(e, n), [&] {
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_training, e.alg, flat_desc(n), e.alpha, e.beta);
    dnnl::eltwise_forward::primitive_desc pd(desc, engine());
    return EltwiseForwardPlan{pd, dnnl::eltwise_forward(pd)};
  });
}

const EltwiseBackwardPlan& backward_plan(const Eltwise& e, int64_t n) {
  static Cache<EltwiseBackwardPlan> cache;
  return cache.get(key_of(e, n), [&] {
    dnnl::eltwise_backward::desc desc(e.alg, flat_desc(n), flat_desc(n), e.alpha, e.beta);
    dnnl::eltwise_backward::primitive_desc pd(desc, engine(), forward_plan(e, n).pd);
    return EltwiseBackwardPlan{pd, dnnl::eltwise_backward(pd)};
  });
}

// dst = steps(src); dst may be src.
void run_steps(const Activation& a, const memory& src, const memory& dst, int64_t n) {
  const memory* from = &src;
  for (const Eltwise& e : forward_steps(a)) {
    forward_plan(e, n).prim.execute(stream(), {{DNNL_ARG_SRC, *from}, {DNNL_ARG_DST, dst}});
    from = &dst;
  }
}

}  // namespace

Key& add_to_key(Key& key, const std::optional<Activation>& a) {
  if (!a) return key.add(0);
  key.add(1 + static_cast<int64_t>(a->kind));
  return key.add(std::bit_cast<int64_t>(a->alpha)).add(std::bit_cast<int64_t>(a->beta));
}

void append_activation(dnnl::post_ops& ops, Activation kind) {
  for (const Eltwise& e : forward_steps(kind)) ops.append_eltwise(1.f, e.alg, e.alpha, e.beta);
}

dnnl::primitive_attr eltwise_post_op(Activation kind) {
  dnnl::post_ops ops;
  append_activation(ops, kind);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  return attr;
}

void activate_in_place(Activation kind, const Tensor& y) {
  const int64_t n = y.numel();
  if (n == 0) return;
  const dnnl::memory m(flat_desc(n), engine(), y.mutable_raw_data());  // written in place
  run_steps(kind, m, m, n);
}

namespace {
// The tensor itself when dense in any layout, else a dense copy.
Tensor dense(const Tensor& t) { return t.layout() == Layout::Strided ? t.detach().contiguous() : t.detach(); }
}  // namespace

Tensor activation_grad(Activation kind, const Tensor& grad_y, const Tensor& y_or_x) {
  const Tensor saved = dense(y_or_x);
  const Tensor diff_dst = in_layout(grad_y, saved.layout());
  Tensor gx = empty_in(saved.shape(), DType::F32, Device::cpu(), saved.layout());
  const int64_t n = saved.numel();
  if (n == 0) return gx;
  const Eltwise e = backward_step(kind);
  const memory diff_src = memory_of(flat_desc(n), gx);
  backward_plan(e, n).prim.execute(
      stream(), {{kind.derivative_from_y() ? DNNL_ARG_DST : DNNL_ARG_SRC, memory_of(flat_desc(n), saved)},
                 {DNNL_ARG_DIFF_DST, memory_of(flat_desc(n), diff_dst)},
                 {DNNL_ARG_DIFF_SRC, diff_src}});
  if (kind.kind == ActivationKind::HardSigmoid) {  // [0 < y < 1] gy, times alpha
    const Eltwise scale{algorithm::eltwise_linear, static_cast<float>(kind.alpha), 0.f};
    forward_plan(scale, n).prim.execute(stream(), {{DNNL_ARG_SRC, diff_src}, {DNNL_ARG_DST, diff_src}});
  }
  return gx;
}

namespace {

bool supports(Activation, DType dtype) { return supported_dtype(dtype); }

Tensor forward(Activation kind, const Tensor& x) {
  const Tensor src = dense(x);
  Tensor y = empty_in(src.shape(), DType::F32, Device::cpu(), src.layout());
  const int64_t n = src.numel();
  if (n == 0) return y;
  run_steps(kind, memory_of(flat_desc(n), src), memory_of(flat_desc(n), y), n);
  return y;
}

struct AddForward {
  dnnl::binary::primitive_desc pd;
  dnnl::binary prim;
};

// dst = kind(src0 + src1): the binary primitive with the eltwise post-ops.
const AddForward& add_plan(Activation kind, int64_t n) {
  static Cache<AddForward> cache;
  Key key;
  key.add(n);
  for (const Eltwise& e : forward_steps(kind)) add_to(key, e);
  return cache.get(key.str(), [&] {
    dnnl::binary::desc desc(dnnl::algorithm::binary_add, flat_desc(n), flat_desc(n), flat_desc(n));
    dnnl::binary::primitive_desc pd(desc, eltwise_post_op(kind), engine());
    return AddForward{pd, dnnl::binary(pd)};
  });
}

Tensor add_forward(Activation kind, const Tensor& a, const Tensor& b) {
  const Tensor src0 = dense(a), src1 = dense(b);
  Tensor y = empty_in(src0.shape(), DType::F32, Device::cpu(), src0.layout());
  const int64_t n = src0.numel();
  if (n == 0) return y;
  add_plan(kind, n).prim.execute(stream(), {{DNNL_ARG_SRC_0, memory_of(flat_desc(n), src0)},
                                            {DNNL_ARG_SRC_1, memory_of(flat_desc(n), src1)},
                                            {DNNL_ARG_DST, memory_of(flat_desc(n), y)}});
  return y;
}

const ActivationKernels kDnnlActivation{supports, forward, activation_grad, add_forward};
STRATA_REGISTER_KERNELS(ActivationKernels, Backend::Dnnl, kDnnlActivation);

}  // namespace
}  // namespace strata::dnnl_backend
