// Reference softmax, log_softmax and cross-entropy kernels: the formulas as plain loops,
// numerically stable (the maximum is subtracted before exponentiating). Templated on the scalar
// type (float, double); sums accumulate in double.
//
// Layouts: softmax x, y, grad_y, grad_x dense (outer, K, inner) (see ops/loss.hpp); cross-entropy
// logits, log_probs, grad_logits dense (N, K), targets (N) class indices already checked to lie
// in [0, K).
#pragma once

#include <cmath>
#include <limits>

#include "ops/loss.hpp"

namespace strata::ref {

namespace detail {
// Offset of (o, k, i) in a dense (outer, K, inner) array.
inline int64_t softmax_at(const SoftmaxGeom& g, int64_t o, int64_t k, int64_t i) {
  return (o * g.classes + k) * g.inner + i;
}
}  // namespace detail

// For every (o, i), with m = max_k x[o,k,i] (NaN if any is NaN) and s = sum_k exp(x[o,k,i] - m):
//   softmax:      y[o,k,i] = exp(x[o,k,i] - m) / s
//   log_softmax:  y[o,k,i] = x[o,k,i] - m - log(s)
template <class T>
void softmax_forward(const SoftmaxGeom& g, const T* x, bool log, T* y) {
#pragma omp parallel for collapse(2) schedule(static) if (g.outer * g.classes * g.inner > 65536)
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t i = 0; i < g.inner; ++i) {
      double m = -std::numeric_limits<double>::infinity();
      for (int64_t k = 0; k < g.classes; ++k) {
        const double v = x[detail::softmax_at(g, o, k, i)];
        if (v > m || std::isnan(v)) m = v;
      }
      double s = 0.0;
      for (int64_t k = 0; k < g.classes; ++k) s += std::exp(x[detail::softmax_at(g, o, k, i)] - m);
      const double log_s = std::log(s);
      for (int64_t k = 0; k < g.classes; ++k) {
        const int64_t at = detail::softmax_at(g, o, k, i);
        y[at] = static_cast<T>(log ? x[at] - m - log_s : std::exp(x[at] - m) / s);
      }
    }
}

// For every (o, i), from the forward output y:
//   softmax:      gx[o,k,i] = y[o,k,i] (gy[o,k,i] - sum_j gy[o,j,i] y[o,j,i])
//   log_softmax:  gx[o,k,i] = gy[o,k,i] - exp(y[o,k,i]) sum_j gy[o,j,i]
template <class T>
void softmax_backward(const SoftmaxGeom& g, const T* gy, const T* y, bool log, T* gx) {
#pragma omp parallel for collapse(2) schedule(static) if (g.outer * g.classes * g.inner > 65536)
  for (int64_t o = 0; o < g.outer; ++o)
    for (int64_t i = 0; i < g.inner; ++i) {
      double dot = 0.0;
      for (int64_t k = 0; k < g.classes; ++k) {
        const int64_t at = detail::softmax_at(g, o, k, i);
        dot += log ? static_cast<double>(gy[at]) : static_cast<double>(gy[at]) * y[at];
      }
      for (int64_t k = 0; k < g.classes; ++k) {
        const int64_t at = detail::softmax_at(g, o, k, i);
        gx[at] = static_cast<T>(log ? gy[at] - std::exp(static_cast<double>(y[at])) * dot : y[at] * (gy[at] - dot));
      }
    }
}

// log_probs = log_softmax(logits) along K, and with e = label_smoothing,
//   loss = (1/N) sum_n [ -(1-e) log_probs[n, t_n] - (e/K) sum_k log_probs[n, k] ]
// (-sum_k q[n,k] log_probs[n,k] for q = (1-e) onehot(t_n) + e/K); NaN when N = 0, as PyTorch.
template <class T>
void cross_entropy_forward(const CrossEntropyGeom& g, const T* logits, const int64_t* targets, T* log_probs, T* loss) {
  const SoftmaxGeom rows{.op = "cross_entropy", .dim = 1, .outer = g.batch, .classes = g.classes, .inner = 1,
                         .shape = {g.batch, g.classes}};
  softmax_forward(rows, logits, /*log=*/true, log_probs);
  const double e = g.label_smoothing;
  double total = 0.0;
  for (int64_t n = 0; n < g.batch; ++n) {
    const T* row = log_probs + n * g.classes;
    double row_sum = 0.0;
    for (int64_t k = 0; k < g.classes; ++k) row_sum += row[k];
    total += -(1.0 - e) * row[targets[n]] - e / static_cast<double>(g.classes) * row_sum;
  }
  *loss = static_cast<T>(total / static_cast<double>(g.batch));
}

// gx[n,k] = grad_loss (exp(log_probs[n,k]) - q[n,k]) / N, q[n,k] = (1-e) [k == t_n] + e/K.
template <class T>
void cross_entropy_backward(const CrossEntropyGeom& g, double grad_loss, const T* log_probs, const int64_t* targets,
                            T* gx) {
  const double e = g.label_smoothing, scale = grad_loss / static_cast<double>(g.batch);
  for (int64_t n = 0; n < g.batch; ++n)
    for (int64_t k = 0; k < g.classes; ++k) {
      const int64_t at = n * g.classes + k;
      const double q = (k == targets[n] ? 1.0 - e : 0.0) + e / static_cast<double>(g.classes);
      gx[at] = static_cast<T>(scale * (std::exp(static_cast<double>(log_probs[at])) - q));
    }
}

}  // namespace strata::ref
