// softmax / log_softmax along one dimension and the fused cross-entropy loss: geometry,
// validation and the kernel contracts.
//
// Layouts: softmax views its input as a dense (outer, K, inner) array, K the size of the softmax
// dimension, outer the product of the sizes before it and inner of those after it (so dim = -1
// is (rows, K, 1) and dim 1 of (N, C, H, W) is (N, C, H*W)); the output has the input's shape.
// cross_entropy: logits and log-probabilities (N, K) row-major, targets (N) I64 class indices,
// loss a 0-D scalar.
#pragma once

#include "strata/tensor.hpp"

namespace strata {

struct SoftmaxGeom {
  const char* op = "softmax";  // or "log_softmax", for messages
  int dim = 0;                 // normalised to [0, ndim)
  int64_t outer = 1, classes = 1, inner = 1;
  Shape shape;

  // Throws strata::Error naming op when dim is out of range.
  static SoftmaxGeom make(const char* op, const Shape& x, int dim);
};

struct SoftmaxKernels {
  bool (*supports)(const SoftmaxGeom& g, DType dtype);
  // y = softmax(x) or, when log, log_softmax(x) along K.
  Tensor (*forward)(const SoftmaxGeom& g, const Tensor& x, bool log);
  // grad_x from the forward output y: softmax  gx = y (gy - sum_K gy y);
  //                                   log      gx = gy - exp(y) sum_K gy.
  Tensor (*backward)(const SoftmaxGeom& g, const Tensor& grad_y, const Tensor& y, bool log);
};

struct CrossEntropyGeom {
  int64_t batch = 0, classes = 0;  // N, K
  double label_smoothing = 0.0;    // e: the target distribution is q = (1-e) onehot(t) + e/K

  // Checks the shapes of logits (N, K) and targets (N), and e in [0, 1]; target values are
  // checked by cross_entropy before any kernel runs.
  static CrossEntropyGeom make(const Shape& logits, const Shape& targets, double label_smoothing);
};

struct CrossEntropyForward {
  Tensor loss;       // 0-D: (1/N) sum_n -sum_k q[n,k] logp[n,k]
  Tensor log_probs;  // (N, K) log_softmax(logits), saved for backward
};

struct CrossEntropyKernels {
  bool (*supports)(const CrossEntropyGeom& g, DType dtype);
  CrossEntropyForward (*forward)(const CrossEntropyGeom& g, const Tensor& logits, const Tensor& targets);
  // grad_logits (N, K) = grad_loss (softmax - q) / N; grad_loss 0-D.
  Tensor (*backward)(const CrossEntropyGeom& g, const Tensor& grad_loss, const Tensor& log_probs,
                     const Tensor& targets);
};

}  // namespace strata
