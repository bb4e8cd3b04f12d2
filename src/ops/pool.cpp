// max_pool, avg_pool and adaptive_avg_pool (2-D and 3-D): validation (PoolGeom::make,
// AdaptivePoolGeom::make), kernel selection and gradients.
#include "ops/pool.hpp"

#include "core/dispatch.hpp"
#include "graph/trace.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

const char* layout_name(int nd) { return nd == 2 ? "(N, C, H, W)" : "(N, C, D, H, W)"; }

// Rank and sizes of the input, shared by both geometries; returns the spatial sizes (D, H, W).
Spatial checked_input(const char* op, int nd, const Shape& x) {
  STRATA_CHECK(x.ndim() == nd + 2, op, ": expected a ", nd + 2, "-D input ", layout_name(nd), ", got ", x);
  for (int i = 1; i < x.ndim(); ++i)
    STRATA_CHECK(x[i] > 0, op, ": expected non-zero channel and spatial sizes, got input ", x);
  Spatial in{1, 1, 1};
  for (int i = 0; i < nd; ++i) in[3 - nd + i] = x[2 + i];
  return in;
}

// floor(a / b) for b > 0 and any sign of a.
int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

}  // namespace

PoolGeom PoolGeom::make(const char* op, int nd, PoolMode mode, const Shape& x, const PoolOptions& options) {
  PoolGeom g;
  g.op = op;
  g.nd = nd;
  g.mode = mode;
  g.ceil_mode = options.ceil_mode;
  g.count_include_pad = options.count_include_pad;
  g.in = checked_input(op, nd, x);
  g.batch = x[0];
  g.channels = x[1];
  STRATA_CHECK(!options.kernel.empty(), op, ": kernel size must be given");
  g.kernel = spatial_arg(options.kernel, nd, 1, {}, op, "kernel");
  for (int i = 3 - nd; i < 3; ++i)
    STRATA_CHECK(g.kernel[i] > 0, op, ": kernel size must be positive, got ", spatial_str(g.kernel, nd));
  g.stride = spatial_arg(options.stride, nd, 1, g.kernel, op, "stride");
  g.padding = spatial_arg(options.padding, nd, 0, {0, 0, 0}, op, "padding");
  for (int i = 3 - nd; i < 3; ++i) {
    STRATA_CHECK(g.stride[i] > 0, op, ": stride must be positive, got ", spatial_str(g.stride, nd));
    STRATA_CHECK(g.padding[i] >= 0, op, ": padding must be non-negative, got ", spatial_str(g.padding, nd));
    STRATA_CHECK(g.padding[i] <= g.kernel[i] / 2, op, ": padding ", spatial_str(g.padding, nd),
                 " must be at most half the kernel ", spatial_str(g.kernel, nd));
  }
  Spatial padded{};
  for (int i = 0; i < 3; ++i) {
    padded[i] = g.in[i] + 2 * g.padding[i];
    const int64_t extent = padded[i] - g.kernel[i] + (g.ceil_mode ? g.stride[i] - 1 : 0);
    g.out[i] = floor_div(extent, g.stride[i]) + 1;
    if (g.ceil_mode && (g.out[i] - 1) * g.stride[i] >= g.in[i] + g.padding[i]) --g.out[i];
  }
  // Without ceil_mode out < 1 exactly when the kernel exceeds the padded input; with it, when it
  // exceeds it by stride or more.
  for (int i = 3 - nd; i < 3; ++i)
    STRATA_CHECK(g.out[i] >= 1, op, ": kernel ", spatial_str(g.kernel, nd), " is larger than the padded input ",
                 spatial_str(padded, nd), " (input ", x, ", padding ", spatial_str(g.padding, nd), ")");
  return g;
}

Shape PoolGeom::x_shape() const { return with_spatial(batch, channels, in, nd); }
Shape PoolGeom::y_shape() const { return with_spatial(batch, channels, out, nd); }

AdaptivePoolGeom AdaptivePoolGeom::make(const char* op, int nd, const Shape& x, const Dims& output_size) {
  AdaptivePoolGeom g;
  g.op = op;
  g.nd = nd;
  g.in = checked_input(op, nd, x);
  g.batch = x[0];
  g.channels = x[1];
  STRATA_CHECK(!output_size.empty(), op, ": output size must be given");
  g.out = spatial_arg(output_size, nd, 1, {}, op, "output_size");
  for (int i = 3 - nd; i < 3; ++i)
    STRATA_CHECK(g.out[i] > 0, op, ": output size must be positive, got ", spatial_str(g.out, nd));
  return g;
}

Shape AdaptivePoolGeom::x_shape() const { return with_spatial(batch, channels, in, nd); }
Shape AdaptivePoolGeom::y_shape() const { return with_spatial(batch, channels, out, nd); }

namespace {

void check_tensor(const char* op, const Tensor& x) {
  STRATA_CHECK(x.defined(), op, ": input must be a defined tensor");
}

void check_dtype(const char* op, const Tensor& x) {
  STRATA_CHECK(is_floating(x.dtype()), op, ": input must be floating-point, got ", dtype_name(x.dtype()));
}

Tensor pool(const char* op, int nd, PoolMode mode, const Tensor& x, const PoolOptions& options) {
  graph::OpTrace trace;
  check_tensor(op, x);
  PoolGeom g = PoolGeom::make(op, nd, mode, x.shape(), options);
  g.layout = x.layout();
  check_dtype(op, x);
  const bool grad = autograd::needs_grad({x});
  g.inference = !grad;
  const PoolKernels& k =
      select_kernels<PoolKernels>(op, x.device(), [&](const PoolKernels& t) { return t.supports(g, x.dtype()); });
  PoolForward f = k.forward(g, x.detach(), grad && mode == PoolMode::Max);
  if (grad)
    autograd::record(op, f.y, {x}, [g, &k, workspace = f.workspace](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{k.backward(g, gy, workspace)};
    });
  if (trace.recording()) trace.record(graph::OpKind::Pool, graph::PoolAttrs{nd, {mode, options}}, {x}, f.y);
  return f.y;
}

Tensor adaptive_avg_pool_nd(const char* op, int nd, const Tensor& x, const Dims& output_size) {
  graph::OpTrace trace;
  check_tensor(op, x);
  const AdaptivePoolGeom g = AdaptivePoolGeom::make(op, nd, x.shape(), output_size);
  check_dtype(op, x);
  const AdaptivePoolKernels& k = select_kernels<AdaptivePoolKernels>(
      op, x.device(), [&](const AdaptivePoolKernels& t) { return t.supports(g, x.dtype()); });
  Tensor y = k.forward(g, x.detach());
  if (autograd::needs_grad({x}))
    autograd::record(op, y, {x}, [g, &k](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{k.backward(g, gy)};
    });
  if (trace.recording())
    trace.record(graph::OpKind::AdaptiveAvgPool, graph::AdaptivePoolAttrs{nd, output_size}, {x}, y);
  return y;
}

}  // namespace

Tensor max_pool2d(const Tensor& x, const PoolOptions& options) { return pool("max_pool2d", 2, PoolMode::Max, x, options); }
Tensor max_pool3d(const Tensor& x, const PoolOptions& options) { return pool("max_pool3d", 3, PoolMode::Max, x, options); }
Tensor avg_pool2d(const Tensor& x, const PoolOptions& options) { return pool("avg_pool2d", 2, PoolMode::Avg, x, options); }
Tensor avg_pool3d(const Tensor& x, const PoolOptions& options) { return pool("avg_pool3d", 3, PoolMode::Avg, x, options); }

Tensor adaptive_avg_pool2d(const Tensor& x, Dims output_size) {
  return adaptive_avg_pool_nd("adaptive_avg_pool2d", 2, x, output_size);
}
Tensor adaptive_avg_pool3d(const Tensor& x, Dims output_size) {
  return adaptive_avg_pool_nd("adaptive_avg_pool3d", 3, x, output_size);
}

}  // namespace strata
