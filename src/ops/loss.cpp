// softmax, log_softmax and cross_entropy: validation, kernel selection and gradients.
#include "ops/loss.hpp"

#include "core/dispatch.hpp"
#include "graph/trace.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {

SoftmaxGeom SoftmaxGeom::make(const char* op, const Shape& x, int dim) {
  SoftmaxGeom g;
  g.op = op;
  g.dim = normalize_dim(dim, x.ndim(), op);
  g.shape = x;
  if (x.ndim() == 0) return g;  // a scalar is one class: (1, 1, 1)
  for (int i = 0; i < x.ndim(); ++i) {
    if (i < g.dim) g.outer *= x[i];
    if (i > g.dim) g.inner *= x[i];
  }
  g.classes = x[g.dim];
  return g;
}

CrossEntropyGeom CrossEntropyGeom::make(const Shape& logits, const Shape& targets, double label_smoothing) {
  STRATA_CHECK(logits.ndim() == 2, "cross_entropy: expected 2-D logits (N, K), got ", logits);
  CrossEntropyGeom g;
  g.batch = logits[0];
  g.classes = logits[1];
  STRATA_CHECK(targets.ndim() == 1 && targets[0] == g.batch, "cross_entropy: expected targets of shape [",
               g.batch, "] (one class index per row of logits ", logits, "), got ", targets);
  STRATA_CHECK(label_smoothing >= 0.0 && label_smoothing <= 1.0,
               "cross_entropy: label_smoothing must be in [0, 1], got ", label_smoothing);
  g.label_smoothing = label_smoothing;
  return g;
}

namespace {

Tensor softmax_op(const char* op, const Tensor& x, int dim, bool log) {
  graph::OpTrace trace;
  STRATA_CHECK(x.defined(), op, ": input is an undefined tensor");
  STRATA_CHECK(is_floating(x.dtype()), op, ": expected a floating-point tensor, got ", dtype_name(x.dtype()));
  const SoftmaxGeom g = SoftmaxGeom::make(op, x.shape(), dim);
  const SoftmaxKernels& k = select_kernels<SoftmaxKernels>(
      op, x.device(), [&](const SoftmaxKernels& t) { return t.supports(g, x.dtype()); });
  Tensor y = k.forward(g, x.detach(), log);
  if (autograd::needs_grad({x}))
    autograd::record(op, y, {x}, [g, &k, log, y = y.detach()](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{k.backward(g, gy, y, log)};
    });
  if (trace.recording()) trace.record(graph::OpKind::Softmax, graph::SoftmaxAttrs{dim, log}, {x}, y);
  return y;
}

// Every target in [0, K), else an error naming the first one that is not.
void check_targets(const CrossEntropyGeom& g, const Tensor& targets) {
  const std::vector<int64_t> t = targets.to_vector<int64_t>();
  for (std::size_t n = 0; n < t.size(); ++n)
    STRATA_CHECK(t[n] >= 0 && t[n] < g.classes, "cross_entropy: target ", t[n], " at index ", n,
                 " is out of range for ", g.classes, " classes");
}

}  // namespace

Tensor softmax(const Tensor& x, int dim) { return softmax_op("softmax", x, dim, /*log=*/false); }
Tensor log_softmax(const Tensor& x, int dim) { return softmax_op("log_softmax", x, dim, /*log=*/true); }

Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing) {
  STRATA_CHECK(logits.defined() && targets.defined(), "cross_entropy: logits and targets must be defined tensors");
  STRATA_CHECK(is_floating(logits.dtype()), "cross_entropy: logits must be floating-point, got ",
               dtype_name(logits.dtype()));
  STRATA_CHECK(targets.dtype() == DType::I64, "cross_entropy: targets must be i64 class indices, got ",
               dtype_name(targets.dtype()));
  STRATA_CHECK(targets.device() == logits.device(), "cross_entropy: logits are on ", logits.device().str(),
               " but targets are on ", targets.device().str());
  const CrossEntropyGeom g = CrossEntropyGeom::make(logits.shape(), targets.shape(), label_smoothing);
  check_targets(g, targets);
  const CrossEntropyKernels& k = select_kernels<CrossEntropyKernels>(
      "cross_entropy", logits.device(), [&](const CrossEntropyKernels& t) { return t.supports(g, logits.dtype()); });
  const CrossEntropyForward f = k.forward(g, logits.detach(), targets);
  if (autograd::needs_grad({logits}))
    autograd::record("cross_entropy", f.loss, {logits},
                     [g, &k, log_probs = f.log_probs, targets](const Tensor& gy, const autograd::Node&) {
                       return std::vector<Tensor>{k.backward(g, gy, log_probs, targets)};
                     });
  return f.loss;
}

}  // namespace strata
