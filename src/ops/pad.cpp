// pad (constant, reflect, edge; negative amounts crop) through PadKernels, with its gradient.
#include "ops/pad.hpp"

#include "core/dispatch.hpp"
#include "graph/trace.hpp"
#include "strata/autograd.hpp"

namespace strata {

const char* pad_mode_name(PadMode mode) {
  switch (mode) {
    case PadMode::Constant:
      return "constant";
    case PadMode::Reflect:
      return "reflect";
    case PadMode::Edge:
      return "edge";
  }
  fail("internal error: unknown pad mode");
}

PadGeom PadGeom::make(const Shape& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  const int nd = x.ndim();
  STRATA_CHECK(static_cast<int>(pads.size()) == 2 * nd, "pad: ", pads.size(), " pads for an input of ", nd,
               " dimensions ", x, "; give ", 2 * nd, " (each dimension's start, then each dimension's end)");
  PadGeom g;
  g.x = x;
  g.y = x;
  g.mode = mode;
  g.value = value;
  g.before.assign(pads.begin(), pads.begin() + nd);
  g.after.assign(pads.begin() + nd, pads.end());
  for (int d = 0; d < nd; ++d) {
    const int64_t n = x[d], b = g.before[d], a = g.after[d];
    g.y[d] = n + b + a;
    STRATA_CHECK(g.y[d] >= 0, "pad: dimension ", d, " of ", x, " has ", n, " elements, cropped by ", -std::min<int64_t>(b, 0),
                 " and ", -std::min<int64_t>(a, 0), ": fewer than none");
    if (mode == PadMode::Reflect)
      STRATA_CHECK(b < n && a < n, "pad: reflect pads dimension ", d, " of ", x, " by ", b, " and ", a,
                   "; each amount must be below the dimension's size ", n, " (the edge element is not repeated)");
    if (mode == PadMode::Edge)
      STRATA_CHECK(n > 0 || (b <= 0 && a <= 0), "pad: edge pads dimension ", d, " of ", x,
                   ", which is empty: there is no edge element to repeat");
  }
  return g;
}

int64_t PadGeom::source(int d, int64_t o) const {
  const int64_t n = x[d];
  const int64_t i = o - before[d];
  if (i >= 0 && i < n) return i;
  switch (mode) {
    case PadMode::Constant:
      return -1;
    case PadMode::Reflect:
      return i < 0 ? -i : 2 * (n - 1) - i;
    case PadMode::Edge:
      return i < 0 ? 0 : n - 1;
  }
  return -1;
}

Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode, double value) {
  graph::OpTrace trace;
  STRATA_CHECK(x.defined(), "pad: input is an undefined tensor");
  STRATA_CHECK(is_floating(x.dtype()), "pad: expected a floating-point tensor, got ", dtype_name(x.dtype()));
  const PadGeom g = PadGeom::make(x.shape(), pads, mode, value);
  const PadKernels& k =
      select_kernels<PadKernels>("pad", x.device(), [&](const PadKernels& t) { return t.supports(g, x.dtype()); });
  Tensor y = k.forward(g, x.detach());
  if (autograd::needs_grad({x}))
    autograd::record(std::string("pad_") + pad_mode_name(mode), y, {x},
                     [g, &k](const Tensor& gy, const autograd::Node&) { return std::vector<Tensor>{k.backward(g, gy)}; });
  if (trace.recording()) trace.record(graph::OpKind::Pad, graph::PadAttrs{pads, mode, value}, {x}, y);
  return y;
}

}  // namespace strata
