// Convolution on oneDNN: forward, backward data, backward weights (ConvKernels, ops/conv.hpp).
// Activations in preferred_layout (context.hpp); weights reordered from PyTorch's O,I,k... layout
// (or G,O/G,I/G,k... for grouped convolution) to the primitive's format on each call (once while
// they do not change, for inference: weight_cache.hpp); weight gradients returned in O,I,k...
// Epilogue: the residual as oneDNN's sum post-op (the output buffer starts as the residual), then
// the activation as its eltwise post-op; a pooling is left to the pooling op. Few-channel 2-D
// convolutions, which oneDNN would pad to 16-channel blocks, rank below Strata's own kernels
// (kernels/cpu/small_conv.hpp), which take them first.
#include "kernels/dnnl/conv.hpp"

#include "core/dispatch.hpp"
#include "kernels/dnnl/activation.hpp"
#include "kernels/dnnl/context.hpp"
#include "kernels/dnnl/weight_cache.hpp"
#include "ops/activation.hpp"
#include "ops/conv.hpp"

namespace strata::dnnl_backend {
namespace {

using dnnl::memory;
using tag = memory::format_tag;

struct ConvArgs {
  memory::dims strides, dilates, padding_l, padding_r;
};

ConvArgs conv_args(const ConvGeom& g) {
  ConvArgs a;
  for (int i = 3 - g.nd; i < 3; ++i) {
    const int64_t dilated = (g.kernel[i] - 1) * g.dilation[i] + 1;
    a.strides.push_back(g.stride[i]);
    a.dilates.push_back(g.dilation[i] - 1);
    a.padding_l.push_back(g.padding[i]);
    a.padding_r.push_back((g.out[i] - 1) * g.stride[i] + dilated - g.in[i] - g.padding[i]);
  }
  return a;
}

// The weights as the user stores them: (O, C/G, k...) plain, seen as (G, O/G, C/G, k...) when grouped.
memory::desc user_weights_desc(const ConvGeom& g) {
  memory::dims d;
  if (g.groups > 1) d = {g.groups, g.out_per_group(), g.in_per_group()};
  else d = {g.out_channels, g.in_per_group()};
  for (int i = 3 - g.nd; i < 3; ++i) d.push_back(g.kernel[i]);
  tag t = g.groups > 1 ? (g.nd == 2 ? tag::goihw : tag::goidhw) : (g.nd == 2 ? tag::oihw : tag::oidhw);
  return memory::desc(d, memory::data_type::f32, t);
}

memory::desc any_desc(const Shape& shape) { return memory::desc(dims_of(shape), memory::data_type::f32, tag::any); }

memory::desc any_weights_desc(const ConvGeom& g) {
  return memory::desc(user_weights_desc(g).dims(), memory::data_type::f32, tag::any);
}

// Direct, or oneDNN's choice (Winograd for eligible 3x3 convolutions) under ConvAlgorithm::Auto.
// Winograd wants its input in 16-channel blocks: a first layer of fewer input channels (VGG's
// 1-channel 224x224 image) would be padded to 16 channels, 16x the bytes and the work, where the
// direct kernel reads the plain image as it is.
//
// oneDNN's own choice takes Winograd at inference from batch 4 only. Below that Winograd
// (F(4x4, 3x3): a quarter of the multiplies, in 6x6 tiles) still beats the direct kernel on
// outputs of 12x12 positions and more with 16+ channels in and 32+ out, so it is asked for by name
// there (commits 17d1735 and f3affe8 have the measurements). On smaller maps its transformed
// weights (4x the 3x3 ones, read from memory at batch 1) cost more than the multiplies it saves.
dnnl::algorithm algorithm(const ConvGeom& g) {
  const bool three_by_three = g.kernel[1] == 3 && g.kernel[2] == 3 && (g.nd == 2 || g.kernel[0] == 3);
  const bool eligible = three_by_three && g.groups == 1 && g.in_channels >= 16 &&
                        g.stride == Spatial{1, 1, 1} && g.dilation == Spatial{1, 1, 1};
  if (conv_algorithm() != ConvAlgorithm::Auto || !eligible) return dnnl::algorithm::convolution_direct;
  const bool small_batch_winograd = g.inference && g.nd == 2 && g.batch < 4 && g.out_spatial() >= 12 * 12 &&
                                    g.in_channels >= 16 && g.out_channels >= 32;
  return small_batch_winograd ? dnnl::algorithm::convolution_winograd : dnnl::algorithm::convolution_auto;
}

std::string key(const ConvGeom& g) {
  Key k;
  k.add(g.x_shape()).add(g.weight_shape());
  for (int i = 0; i < 3; ++i) k.add(g.stride[i]).add(g.padding[i]).add(g.dilation[i]);
  k.add(g.groups).add(g.has_bias).add(g.epilogue.residual);
  add_to_key(k, g.epilogue.activation);
  return k.add(static_cast<int64_t>(algorithm(g))).str();
}

// The forward descriptor of g's convolution (with g's bias when it has one), input and output in
// the layouts oneDNN picks.
dnnl::convolution_forward::desc forward_desc(const ConvGeom& g, dnnl::prop_kind prop, dnnl::algorithm algo) {
  const ConvArgs a = conv_args(g);
  const memory::desc src = any_desc(g.x_shape()), dst = any_desc(g.y_shape());
  if (!g.has_bias)
    return dnnl::convolution_forward::desc(prop, algo, src, any_weights_desc(g), dst, a.strides, a.dilates,
                                           a.padding_l, a.padding_r);
  const memory::desc bias({g.out_channels}, memory::data_type::f32, tag::a);
  return dnnl::convolution_forward::desc(prop, algo, src, any_weights_desc(g), bias, dst, a.strides, a.dilates,
                                         a.padding_l, a.padding_r);
}

// The epilogue as post-ops: sum (dst += the residual already in it), then the eltwise activation.
dnnl::primitive_attr forward_attr(const ConvGeom& g) {
  dnnl::post_ops ops;
  if (g.epilogue.residual) ops.append_sum(1.f);
  if (g.epilogue.activation) append_activation(ops, *g.epilogue.activation);
  dnnl::primitive_attr attr = user_scratchpad();
  attr.set_post_ops(ops);
  return attr;
}

// Backward primitives are the same whatever the forward's epilogue.
ConvGeom without_post_op(ConvGeom g) {
  g.epilogue = {};
  return g;
}

// The forward primitive and the descriptors each call needs, queried once (each query builds a
// descriptor through oneDNN's C API: a few microseconds per call of a small layer).
struct ConvForwardPlan {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  memory::desc src, weights, user_weights, dst, scratchpad;
};
struct ConvBackwardDataPlan {
  dnnl::convolution_backward_data::primitive_desc pd;
  dnnl::convolution_backward_data prim;
};
struct ConvBackwardWeightsPlan {
  dnnl::convolution_backward_weights::primitive_desc pd;
  dnnl::convolution_backward_weights prim;
};

const ConvForwardPlan& forward_plan(const ConvGeom& g) {
  static Cache<ConvForwardPlan> cache;
  return cache.get(key(g), [&g] {
    auto make_pd = [&](dnnl::algorithm algo) {
      // Winograd for inference transforms its weights once (into the weight cache) instead of on
      // each call. Not for the direct kernels: for inference oneDNN would pick ones of another
      // activation layout (channels last), with reorders on both sides.
      const dnnl::prop_kind prop = algo == dnnl::algorithm::convolution_winograd ? dnnl::prop_kind::forward_inference
                                                                                 : dnnl::prop_kind::forward_training;
      return dnnl::convolution_forward::primitive_desc(forward_desc(g, prop, algo), forward_attr(g), engine());
    };
    const dnnl::algorithm algo = algorithm(g);
    dnnl::convolution_forward::primitive_desc pd;
    try {
      pd = make_pd(algo);
    } catch (const dnnl::error&) {
      // Winograd asked for by name, with a post-op its kernels lack: oneDNN's choice instead.
      if (algo != dnnl::algorithm::convolution_winograd) throw;
      pd = make_pd(dnnl::algorithm::convolution_auto);
    }
    return ConvForwardPlan{pd,
                           dnnl::convolution_forward(pd),
                           pd.src_desc(),
                           pd.weights_desc(),
                           user_weights_desc(g),
                           pd.dst_desc(),
                           pd.scratchpad_desc()};
  });
}

const ConvBackwardDataPlan& backward_data_plan(const ConvGeom& fused) {
  const ConvGeom g = without_post_op(fused);
  static Cache<ConvBackwardDataPlan> cache;
  return cache.get(key(g), [&g] {
    const ConvArgs a = conv_args(g);
    dnnl::convolution_backward_data::desc desc(
        algorithm(g), any_desc(g.x_shape()), any_weights_desc(g), any_desc(g.y_shape()),
        a.strides, a.dilates, a.padding_l, a.padding_r);
    dnnl::convolution_backward_data::primitive_desc pd(desc, user_scratchpad(), engine(), forward_plan(g).pd);
    return ConvBackwardDataPlan{pd, dnnl::convolution_backward_data(pd)};
  });
}

const ConvBackwardWeightsPlan& backward_weights_plan(const ConvGeom& fused) {
  const ConvGeom g = without_post_op(fused);
  static Cache<ConvBackwardWeightsPlan> cache;
  return cache.get(key(g), [&g] {
    const ConvArgs a = conv_args(g);
    dnnl::convolution_backward_weights::desc desc(
        algorithm(g), any_desc(g.x_shape()), any_weights_desc(g), any_desc(g.y_shape()),
        a.strides, a.dilates, a.padding_l, a.padding_r);
    dnnl::convolution_backward_weights::primitive_desc pd(desc, user_scratchpad(), engine(), forward_plan(g).pd);
    return ConvBackwardWeightsPlan{pd, dnnl::convolution_backward_weights(pd)};
  });
}

// Any geometry (oneDNN takes a negative right padding for the input rows PyTorch's floor division
// leaves unread, e.g. a 1x1 stride-2 convolution of an even size); a residual and an activation,
// not a pooling.
bool supports(const ConvGeom& g, DType dtype) { return supported_dtype(dtype) && !g.epilogue.pool; }

ConvForward forward(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& residual) {
  const ConvForwardPlan& plan = forward_plan(g);
  Tensor holders[4];
  const Tensor wc = w.detach().contiguous();
  memory wm = cached_weights(plan.weights, plan.user_weights, wc, holders[0]);
  memory src = as_input(plan.src, x, holders[1]);
  Output y(plan.dst, g.y_shape());
  if (g.epilogue.residual) y.fill(residual);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DST, y.memory()}};
  if (g.has_bias) {
    holders[2] = b.detach().contiguous();
    args.emplace(DNNL_ARG_BIAS, memory_of(holders[2]));
  }
  add_scratchpad(plan.scratchpad, args, holders[3]);
  plan.prim.execute(stream(), args);
  return {y.finish(), {}};
}

Tensor backward_data(const ConvGeom& g, const Tensor& gy, const Tensor& w) {
  const ConvBackwardDataPlan& plan = backward_data_plan(g);
  Tensor holders[3];
  const Tensor wc = w.detach().contiguous();
  memory wm = reorder_to(plan.pd.weights_desc(), memory_of(user_weights_desc(g), wc), holders[0]);
  memory diff_dst = as_input(plan.pd.diff_dst_desc(), gy, holders[1]);
  Output gx(plan.pd.diff_src_desc(), g.x_shape());
  std::unordered_map<int, memory> args{{DNNL_ARG_DIFF_DST, diff_dst}, {DNNL_ARG_WEIGHTS, wm}, {DNNL_ARG_DIFF_SRC, gx.memory()}};
  add_scratchpad(plan.pd.scratchpad_desc(), args, holders[2]);
  plan.prim.execute(stream(), args);
  return gx.finish();
}

Tensor backward_weight(const ConvGeom& g, const Tensor& gy, const Tensor& x) {
  const ConvBackwardWeightsPlan& plan = backward_weights_plan(g);
  Tensor holders[4];
  memory src = as_input(plan.pd.src_desc(), x, holders[0]);
  memory diff_dst = as_input(plan.pd.diff_dst_desc(), gy, holders[1]);
  Tensor gw = empty(g.weight_shape());
  memory user = memory_of(user_weights_desc(g), gw);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, diff_dst}};
  add_scratchpad(plan.pd.scratchpad_desc(), args, holders[2]);
  if (plan.pd.diff_weights_desc() == user.get_desc()) {
    args.emplace(DNNL_ARG_DIFF_WEIGHTS, user);
    plan.prim.execute(stream(), args);
  } else {
    holders[3] = empty({static_cast<int64_t>((plan.pd.diff_weights_desc().get_size() + 3) / 4)});
    memory blocked(plan.pd.diff_weights_desc(), engine(), holders[3].mutable_raw_data());
    args.emplace(DNNL_ARG_DIFF_WEIGHTS, blocked);
    plan.prim.execute(stream(), args);
    reorder(blocked, user);
  }
  return gw;
}

// gb[o] = sum over n and space of gy[n, o, ...], read in gy's own layout.
Tensor backward_bias(const ConvGeom& g, const Tensor& gy) {
  const Tensor d = in_preferred_layout(gy);
  Tensor gb = zeros({g.out_channels});
  float* out = gb.mutable_data<float>();
  const float* p = d.data<float>();
  const int64_t n = g.batch, c = g.out_channels, s = g.out_spatial();
  if (d.layout() == Layout::Blocked16) {
    const int64_t blocks = c / kChannelBlock;
#pragma omp parallel for schedule(static)
    for (int64_t b = 0; b < blocks; ++b) {
      float acc[kChannelBlock] = {};
      for (int64_t i = 0; i < n; ++i) {
        const float* plane = p + (i * blocks + b) * s * kChannelBlock;
        for (int64_t j = 0; j < s; ++j)
#pragma omp simd
          for (int64_t k = 0; k < kChannelBlock; ++k) acc[k] += plane[j * kChannelBlock + k];
      }
      for (int64_t k = 0; k < kChannelBlock; ++k) out[b * kChannelBlock + k] = acc[k];
    }
  } else {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < c; ++o) {
      float acc = 0.f;
      for (int64_t i = 0; i < n; ++i) {
        const float* plane = p + (i * c + o) * s;
#pragma omp simd reduction(+ : acc)
        for (int64_t j = 0; j < s; ++j) acc += plane[j];
      }
      out[o] = acc;
    }
  }
  return gb;
}

// The activation's backward (from y), which is also the residual's gradient, then each wanted
// gradient of the convolution.
ConvGrads backward(const ConvGeom& g, const ConvBackwardArgs& a) {
  const Tensor gz = g.epilogue.activation ? activation_grad(*g.epilogue.activation, a.grad_y, a.y) : a.grad_y;
  ConvGrads r;
  if (a.residual) r.grad_residual = gz;
  if (a.data) r.grad_x = backward_data(g, gz, a.weight);
  if (a.weights) r.grad_weight = backward_weight(g, gz, a.x);
  if (a.bias) r.grad_bias = backward_bias(g, gz);
  return r;
}

const ConvKernels kDnnlConv{supports, forward, backward};
STRATA_REGISTER_KERNELS(ConvKernels, Backend::Dnnl, kDnnlConv);

// ---- A 1x1 convolution with a depthwise convolution in its epilogue (ConvDepthwiseKernels) ----
// oneDNN's depthwise post-op: the rows of the 1x1 convolution's output (MobileNetV2's expansion,
// six times its input's channels) go through the activation and the depthwise 3x3 convolution
// while they are in cache, and the expanded tensor is never written whole. Where oneDNN's 1x1
// kernel cannot hand its rows over (most batch-1 maps), it would run the two convolutions one
// after the other ("ref_fused_convolution"); those calls are declined and the op runs the
// depthwise convolution as its own.

struct ConvDepthwisePlan {
  dnnl::convolution_forward::primitive_desc pd;
  dnnl::convolution_forward prim;
  memory::desc src, weights, user_weights, dw_weights, dw_user_weights, dst, scratchpad;
  bool fused = false;  // one kernel does both convolutions
};

const ConvDepthwisePlan& depthwise_plan(const ConvGeom& g) {
  static Cache<ConvDepthwisePlan> cache;
  const DepthwiseGeom& d = *g.epilogue.depthwise;
  Key k;
  k.add(g.x_shape()).add(g.weight_shape()).add(g.has_bias).add(d.stride).add(d.has_bias);
  add_to_key(add_to_key(k, g.epilogue.activation), d.activation);
  return cache.get(k.str(), [&g, &d] {
    dnnl::post_ops ops;
    if (g.epilogue.activation) append_activation(ops, *g.epilogue.activation);
    const memory::data_type dw_bias = d.has_bias ? memory::data_type::f32 : memory::data_type::undef;
    ops.append_dw(memory::data_type::f32, dw_bias, memory::data_type::f32, 3, d.stride, 1, 0, {1.f});
    if (d.activation) append_activation(ops, *d.activation);
    dnnl::primitive_attr attr = user_scratchpad();
    attr.set_post_ops(ops);
    // The descriptor names the 1x1 convolution's own output; the primitive writes the depthwise one's.
    const auto desc = forward_desc(g, dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct);
    dnnl::convolution_forward::primitive_desc pd;
    try {
      pd = dnnl::convolution_forward::primitive_desc(desc, attr, engine());
    } catch (const dnnl::error&) {
      return ConvDepthwisePlan{};  // no implementation takes the post-op here
    }
    const memory::desc dw_user({g.out_channels, 1, 1, 3, 3}, memory::data_type::f32, tag::goihw);
    return ConvDepthwisePlan{pd,
                             dnnl::convolution_forward(pd),
                             pd.src_desc(),
                             pd.weights_desc(),
                             user_weights_desc(g),
                             pd.query_md(dnnl::query::exec_arg_md, DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS),
                             dw_user,
                             pd.dst_desc(),
                             pd.scratchpad_desc(),
                             std::string(pd.impl_info_str()).rfind("ref", 0) != 0};
  });
}

// An inference 1x1 stride-1 ungrouped 2-D convolution, its epilogue an activation or none, then
// the depthwise convolution, where oneDNN fuses the two.
bool supports_depthwise(const ConvGeom& g, DType dtype) {
  if (!supported_dtype(dtype) || !g.inference || !g.epilogue.depthwise || g.epilogue.residual || g.nd != 2 ||
      g.groups != 1)
    return false;
  for (int i = 1; i < 3; ++i)
    if (g.kernel[i] != 1 || g.stride[i] != 1 || g.padding[i] != 0 || g.dilation[i] != 1) return false;
  return depthwise_plan(g).fused;
}

Tensor forward_depthwise(const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& b, const Tensor&,
                         const Tensor& dw_w, const Tensor& dw_b) {
  const ConvDepthwisePlan& plan = depthwise_plan(g);
  Tensor holders[6];
  memory wm = cached_weights(plan.weights, plan.user_weights, w.contiguous(), holders[0]);
  memory dwm = cached_weights(plan.dw_weights, plan.dw_user_weights, dw_w.contiguous(), holders[1]);
  memory src = as_input(plan.src, x, holders[3]);
  Output y(plan.dst, g.epilogue.depthwise->y);
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                       {DNNL_ARG_WEIGHTS, wm},
                                       {DNNL_ARG_DST, y.memory()},
                                       {DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS, dwm}};
  if (dw_b.defined()) {
    holders[2] = dw_b.contiguous();
    args.emplace(DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_BIAS, memory_of(holders[2]));
  }
  if (g.has_bias) {
    holders[4] = b.contiguous();
    args.emplace(DNNL_ARG_BIAS, memory_of(holders[4]));
  }
  add_scratchpad(plan.scratchpad, args, holders[5]);
  plan.prim.execute(stream(), args);
  return y.finish();
}

const ConvDepthwiseKernels kDnnlConvDepthwise{supports_depthwise, forward_depthwise};
STRATA_REGISTER_KERNELS(ConvDepthwiseKernels, Backend::Dnnl, kDnnlConvDepthwise);

}  // namespace

std::string conv_forward_implementation(const ConvGeom& g) { return forward_plan(g).pd.impl_info_str(); }

bool conv_depthwise_fuses(const ConvGeom& g) { return supports_depthwise(g, DType::F32); }

}  // namespace strata::dnnl_backend
