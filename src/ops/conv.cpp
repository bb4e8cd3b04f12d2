// conv2d / conv3d: validation (ConvGeom::make), kernel selection and gradients.
#include "ops/conv.hpp"

#include "core/dispatch.hpp"
#include "graph/trace.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

const char* layout_name(int nd, bool weight) {
  if (weight) return nd == 2 ? "(O, C/groups, kH, kW)" : "(O, C/groups, kD, kH, kW)";
  return nd == 2 ? "(N, C, H, W)" : "(N, C, D, H, W)";
}

}  // namespace

ConvGeom ConvGeom::make(const char* op, int nd, const Shape& x, const Shape& w, const Shape* bias,
                        const ConvOptions& options) {
  ConvGeom g;
  g.op = op;
  g.nd = nd;
  STRATA_CHECK(x.ndim() == nd + 2, op, ": expected a ", nd + 2, "-D input ", layout_name(nd, false), ", got ", x);
  STRATA_CHECK(w.ndim() == nd + 2, op, ": expected a ", nd + 2, "-D weight ", layout_name(nd, true), ", got ", w);
  g.batch = x[0];
  g.in_channels = x[1];
  g.out_channels = w[0];
  g.groups = options.groups;
  STRATA_CHECK(g.groups >= 1, op, ": groups must be positive, got ", g.groups);
  STRATA_CHECK(g.in_channels % g.groups == 0, op, ": input channels ", g.in_channels,
               " are not divisible by groups ", g.groups, " (input ", x, ")");
  STRATA_CHECK(g.out_channels % g.groups == 0, op, ": output channels ", g.out_channels,
               " are not divisible by groups ", g.groups, " (weight ", w, ")");
  if (g.groups == 1) {
    STRATA_CHECK(w[1] == g.in_channels, op, ": input has ", g.in_channels, " channels but weight expects ", w[1],
                 " (input ", x, ", weight ", w, ")");
  } else {
    STRATA_CHECK(w[1] * g.groups == g.in_channels, op, ": input has ", g.in_channels,
                 " channels but weight expects ", w[1] * g.groups, " (", w[1], " per group x ", g.groups,
                 " groups; input ", x, ", weight ", w, ")");
  }
  for (int i = 0; i < 3; ++i) {
    g.in[i] = 1;
    g.kernel[i] = 1;
  }
  for (int i = 0; i < nd; ++i) {
    g.in[3 - nd + i] = x[2 + i];
    g.kernel[3 - nd + i] = w[2 + i];
  }
  g.stride = spatial_arg(options.stride, nd, 1, {1, 1, 1}, op, "stride");
  g.padding = spatial_arg(options.padding, nd, 0, {0, 0, 0}, op, "padding");
  g.dilation = spatial_arg(options.dilation, nd, 1, {1, 1, 1}, op, "dilation");
  for (int i = 3 - nd; i < 3; ++i) {
    STRATA_CHECK(g.stride[i] > 0, op, ": stride must be positive, got ", spatial_str(g.stride, nd));
    STRATA_CHECK(g.dilation[i] > 0, op, ": dilation must be positive, got ", spatial_str(g.dilation, nd));
    STRATA_CHECK(g.padding[i] >= 0, op, ": padding must be non-negative, got ", spatial_str(g.padding, nd));
    STRATA_CHECK(g.kernel[i] > 0, op, ": kernel size must be positive, got weight ", w);
  }
  Spatial padded{}, dilated{};
  for (int i = 0; i < 3; ++i) {
    padded[i] = g.in[i] + 2 * g.padding[i];
    dilated[i] = g.dilation[i] * (g.kernel[i] - 1) + 1;
  }
  for (int i = 3 - nd; i < 3; ++i)
    STRATA_CHECK(dilated[i] <= padded[i], op, ": kernel ", spatial_str(g.kernel, nd),
                 (g.dilation == Spatial{1, 1, 1} ? "" : " (dilated " + spatial_str(dilated, nd) + ")"),
                 " is larger than the padded input ", spatial_str(padded, nd), " (input ", x, ", padding ",
                 spatial_str(g.padding, nd), ")");
  for (int i = 0; i < 3; ++i) g.out[i] = (padded[i] - dilated[i]) / g.stride[i] + 1;
  if (bias != nullptr) {
    STRATA_CHECK(bias->ndim() == 1 && (*bias)[0] == g.out_channels, op, ": bias must have shape [",
                 g.out_channels, "] (one per output channel), got ", *bias);
    g.has_bias = true;
  }
  return g;
}

Shape ConvGeom::x_shape() const { return with_spatial(batch, in_channels, in, nd); }
Shape ConvGeom::weight_shape() const { return with_spatial(out_channels, in_per_group(), kernel, nd); }
Shape ConvGeom::y_shape() const { return with_spatial(batch, out_channels, out, nd); }

namespace {

// The validated geometry of a convolution named op, without an epilogue.
ConvGeom checked_geom(const char* op, int nd, const Tensor& x, const Tensor& weight, const Tensor& bias,
                      const ConvOptions& options) {
  STRATA_CHECK(x.defined() && weight.defined(), op, ": input and weight must be defined tensors");
  const Shape bias_shape = bias.defined() ? bias.shape() : Shape{};
  const ConvGeom g = ConvGeom::make(op, nd, x.shape(), weight.shape(), bias.defined() ? &bias_shape : nullptr, options);
  STRATA_CHECK(is_floating(x.dtype()), op, ": input must be floating-point, got ", dtype_name(x.dtype()));
  STRATA_CHECK(weight.dtype() == x.dtype() && (!bias.defined() || bias.dtype() == x.dtype()), op,
               ": input, weight and bias must have the same dtype (input ", dtype_name(x.dtype()), ", weight ",
               dtype_name(weight.dtype()), ")");
  STRATA_CHECK(weight.device() == x.device() && (!bias.defined() || bias.device() == x.device()), op,
               ": input, weight and bias must be on the same device");
  return g;
}


// The convolution g with its whole epilogue on kernels k, recording its gradients.
Tensor run(const ConvGeom& g, const ConvKernels& k, const Tensor& x, const Tensor& weight, const Tensor& bias,
           const Tensor& residual) {
  const ConvForward f = k.forward(g, x.detach(), weight.detach(), detached(bias), detached(residual));
  const Tensor out = g.epilogue.pool ? f.pooled : f.y;
  if (!autograd::needs_grad({x, weight, bias, residual})) return out;
  autograd::record(std::string(g.op) + g.epilogue.suffix(), out, {x, weight, bias, residual},
                   [g, &k, x = x.detach(), w = weight.detach(),
                    y = g.epilogue.backward_reads_y() ? f.y.detach() : Tensor()](const Tensor& grad_out,
                                                                                  const autograd::Node& node) {
                     const ConvGrads r = k.backward(g, {grad_out, y, x, w, node.needs_input_grad(0),
                                                        node.needs_input_grad(1), node.needs_input_grad(2),
                                                        node.needs_input_grad(3)});
                     return std::vector<Tensor>{r.grad_x, r.grad_weight, r.grad_bias, r.grad_residual};
                   });
  return out;
}

Tensor conv_nd(int nd, const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options,
               const Epilogue& epilogue) {
  graph::OpTrace trace;
  const char* op = nd == 2 ? "conv2d" : "conv3d";
  const ConvGeom plain = checked_geom(op, nd, x, weight, bias, options);
  const bool inference =
      !autograd::needs_grad({x, weight, bias, epilogue.residual}) &&
      (!epilogue.depthwise || !autograd::needs_grad({epilogue.depthwise->weight, epilogue.depthwise->bias}));
  const Tensor y = run_epilogue(epilogue, nd, !inference, [&](const Epilogue& part) {
    ConvGeom g = plain;
    g.inference = inference;
    g.epilogue = EpilogueGeom::make(op, nd, g.y_shape(), x, part);
    if (part.depthwise) {
      const ConvDepthwiseKernels* d = find_kernels<ConvDepthwiseKernels>(
          x.device(), [&](const ConvDepthwiseKernels& t) { return t.supports(g, x.dtype()); });
      return d != nullptr ? d->forward(g, x.detach(), weight.detach(), detached(bias), detached(part.residual),
                                       part.depthwise->weight.detach(), detached(part.depthwise->bias))
                          : Tensor();
    }
    const ConvKernels* k =
        find_kernels<ConvKernels>(x.device(), [&](const ConvKernels& t) { return t.supports(g, x.dtype()); });
    return k != nullptr ? run(g, *k, x, weight, bias, part.residual) : Tensor();
  });
  if (trace.recording())
    trace.record(graph::OpKind::Conv, graph::ConvAttrs{nd, options}, traced_inputs({x, weight, bias}, epilogue), y,
                 traced_epilogue(epilogue));
  return y;
}

}  // namespace

Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options,
              const Epilogue& epilogue) {
  return conv_nd(2, x, weight, bias, options, epilogue);
}

Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& options,
              const Epilogue& epilogue) {
  return conv_nd(3, x, weight, bias, options, epilogue);
}

}  // namespace strata
