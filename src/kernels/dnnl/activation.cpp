// ReLU, sigmoid, tanh and ReLU6 on oneDNN's eltwise primitives (ActivationKernels, ops/activation.hpp).
// Elementwise results do not depend on the arrangement, so a tensor of any dense layout is
// passed as one flat vector and the output keeps the input's layout; the "use_dst_for_bwd"
// algorithms compute the gradient from the saved output y.
#include "kernels/dnnl/activation.hpp"

#include "core/dispatch.hpp"
#include "ops/activation.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;

dnnl::algorithm algorithm_of(Activation kind) {
  switch (kind) {
    case Activation::Relu:
      return dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
    case Activation::Sigmoid:
      return dnnl::algorithm::eltwise_logistic_use_dst_for_bwd;
    case Activation::Tanh:
      return dnnl::algorithm::eltwise_tanh_use_dst_for_bwd;
    case Activation::Relu6:
      return dnnl::algorithm::eltwise_clip_v2_use_dst_for_bwd;
  }
  return dnnl::algorithm::eltwise_relu_use_dst_for_bwd;
}

// The eltwise algorithms' alpha and beta: the bounds of relu6's clip, zero for the others.
float eltwise_alpha(Activation) { return 0.f; }
float eltwise_beta(Activation kind) { return kind == Activation::Relu6 ? 6.f : 0.f; }

memory::desc flat_desc(int64_t n) { return memory::desc({n}, memory::data_type::f32, memory::format_tag::a); }

struct EltwiseForwardPlan {
  dnnl::eltwise_forward::primitive_desc pd;
  dnnl::eltwise_forward prim;
};
struct EltwiseBackwardPlan {
  dnnl::eltwise_backward::primitive_desc pd;
  dnnl::eltwise_backward prim;
};

const EltwiseForwardPlan& forward_plan(Activation kind, int64_t n) {
  static Cache<EltwiseForwardPlan> cache;
  return cache.get(Key().add(static_cast<int64_t>(kind)).add(n).str(), [&] {
    dnnl::eltwise_forward::desc desc(dnnl::prop_kind::forward_training, algorithm_of(kind), flat_desc(n),
                                     eltwise_alpha(kind), eltwise_beta(kind));
    dnnl::eltwise_forward::primitive_desc pd(desc, engine());
    return EltwiseForwardPlan{pd, dnnl::eltwise_forward(pd)};
  });
}

const EltwiseBackwardPlan& backward_plan(Activation kind, int64_t n) {
  static Cache<EltwiseBackwardPlan> cache;
  return cache.get(Key().add(static_cast<int64_t>(kind)).add(n).str(), [&] {
    dnnl::eltwise_backward::desc desc(algorithm_of(kind), flat_desc(n), flat_desc(n), eltwise_alpha(kind),
                                      eltwise_beta(kind));
    dnnl::eltwise_backward::primitive_desc pd(desc, engine(), forward_plan(kind, n).pd);
    return EltwiseBackwardPlan{pd, dnnl::eltwise_backward(pd)};
  });
}

}  // namespace

namespace {

// The forward form of each kind's algorithm, for post-ops.
dnnl::algorithm eltwise_algorithm(Activation kind) {
  switch (kind) {
    case Activation::Relu:
      return dnnl::algorithm::eltwise_relu;
    case Activation::Sigmoid:
      return dnnl::algorithm::eltwise_logistic;
    case Activation::Tanh:
      return dnnl::algorithm::eltwise_tanh;
    case Activation::Relu6:
      return dnnl::algorithm::eltwise_clip_v2;
  }
  return dnnl::algorithm::eltwise_relu;
}

}  // namespace

void append_activation(dnnl::post_ops& ops, Activation kind) {
  ops.append_eltwise(1.f, eltwise_algorithm(kind), eltwise_alpha(kind), eltwise_beta(kind));
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
  forward_plan(kind, n).prim.execute(stream(), {{DNNL_ARG_SRC, m}, {DNNL_ARG_DST, m}});
}

namespace {
// The tensor itself when dense in any layout, else a dense copy.
Tensor dense(const Tensor& t) { return t.layout() == Layout::Strided ? t.detach().contiguous() : t.detach(); }
}  // namespace

Tensor activation_grad(Activation kind, const Tensor& grad_y, const Tensor& y) {
  const Tensor dst = dense(y);
  const Tensor diff_dst = in_layout(grad_y, dst.layout());
  Tensor gx = empty_in(dst.shape(), DType::F32, Device::cpu(), dst.layout());
  const int64_t n = dst.numel();
  if (n == 0) return gx;
  backward_plan(kind, n).prim.execute(stream(), {{DNNL_ARG_DST, memory_of(flat_desc(n), dst)},
                                                 {DNNL_ARG_DIFF_DST, memory_of(flat_desc(n), diff_dst)},
                                                 {DNNL_ARG_DIFF_SRC, memory_of(flat_desc(n), gx)}});
  return gx;
}

namespace {

bool supports(Activation, DType dtype) { return supported_dtype(dtype); }

Tensor forward(Activation kind, const Tensor& x) {
  const Tensor src = dense(x);
  Tensor y = empty_in(src.shape(), DType::F32, Device::cpu(), src.layout());
  const int64_t n = src.numel();
  if (n == 0) return y;
  forward_plan(kind, n).prim.execute(stream(), {{DNNL_ARG_SRC, memory_of(flat_desc(n), src)},
                                                {DNNL_ARG_DST, memory_of(flat_desc(n), y)}});
  return y;
}

struct AddForward {
  dnnl::binary::primitive_desc pd;
  dnnl::binary prim;
};

// dst = kind(src0 + src1): the binary primitive with the eltwise post-op.
const AddForward& add_plan(Activation kind, int64_t n) {
  static Cache<AddForward> cache;
  return cache.get(Key().add(static_cast<int64_t>(kind)).add(n).str(), [&] {
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
