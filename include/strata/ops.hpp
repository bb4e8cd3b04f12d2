// The functional API: every op a CNN needs, differentiable, on tensors of any backend.
// Layouts: activations N,C,H,W (2-D ops) or N,C,D,H,W (3-D ops); convolution weights O,I/groups,kH,kW
// (or O,I/groups,kD,kH,kW); linear weights out,in (PyTorch's conventions throughout).
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <vector>

#include "strata/storage.hpp"
#include "strata/tensor.hpp"

namespace strata {

class Generator;

// Per-dimension sizes for window ops: one value for every spatial dimension, or one per
// dimension ({2} and 2 mean 2 everywhere; {2, 1} means 2 along H and 1 along W). Empty means
// "the op's default".
class Dims {
 public:
  Dims() = default;
  Dims(int64_t value) : n_(1) { v_[0] = value; }  // NOLINT: implicit on purpose
  Dims(std::initializer_list<int64_t> values);
  int size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t operator[](int i) const { return v_[i]; }

 private:
  std::array<int64_t, 3> v_{};
  int n_ = 0;
};

// The pointwise activations, also as a post-op fused into conv2d/conv3d/batch_norm. Each
// derivative is a function of the output y, so fused ops keep y and never a pre-activation copy.
enum class Activation : uint8_t {
  Relu,     // y = max(x, 0)                     dy/dx = [y > 0]
  Sigmoid,  // y = 1 / (1 + exp(-x))             dy/dx = y (1 - y)
  Tanh,     // y = tanh(x)                       dy/dx = 1 - y^2
};

// ---- Elementwise arithmetic with broadcasting ----
Tensor add(const Tensor& a, const Tensor& b);
Tensor sub(const Tensor& a, const Tensor& b);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, double b);
Tensor operator-(const Tensor& a, double b);
Tensor operator*(const Tensor& a, double b);
Tensor operator/(const Tensor& a, double b);
Tensor operator+(double a, const Tensor& b);
Tensor operator-(double a, const Tensor& b);
Tensor operator*(double a, const Tensor& b);
Tensor operator/(double a, const Tensor& b);
// activation(a + b) in one pass (ResNet's residual join relu(y + shortcut)): equal values and
// gradients, one tensor and one memory pass fewer. Operands of different shapes broadcast as for
// add, in two passes.
Tensor add(const Tensor& a, const Tensor& b, Activation activation);

// ---- Linear algebra ----
// (M,K) x (K,N) -> (M,N); batched when either side has more dims (batch dims broadcast).
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x w^T + b: x (*, in), w (out, in), b (out) or undefined -> (*, out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// ---- Convolution (cross-correlation, as in the book and PyTorch) ----
// Output size per dimension: floor((n + 2p - d(k-1) - 1)/s) + 1.
struct ConvOptions {
  Dims stride = 1;
  Dims padding = 0;
  Dims dilation = 1;
  int64_t groups = 1;
};
// `activation`, when set, is applied to the output in the same pass (a post-op):
// conv2d(x, w, b, o, Activation::Sigmoid) equals sigmoid(conv2d(x, w, b, o)) in values and
// gradients, with one activation-sized tensor and a memory pass fewer each way.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const ConvOptions& options = {}, std::optional<Activation> activation = {});
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const ConvOptions& options = {}, std::optional<Activation> activation = {});
// Shorthands for the ReLU post-op: conv2d(x, weight, bias, options, Activation::Relu).
Tensor conv2d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                   const ConvOptions& options = {});
Tensor conv3d_relu(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
                   const ConvOptions& options = {});
// A batch normalization in evaluation mode folded into the convolution before it, for inference:
// conv(x, folded.weight, folded.bias) == batch_norm(conv(x, weight, bias), bn_weight, bn_bias,
// running_mean, running_var, false, _, eps) up to rounding, at the cost of the convolution alone.
// weight (O, I/groups, k...); the rest (O), conv_bias, bn_weight and bn_bias may be undefined.
// The result does not track gradients; its memory comes from `allocator` (cpu_allocator() when
// null; a cache of folds keeps them in system_cpu_allocator() memory, see strata/storage.hpp).
struct FoldedConv {
  Tensor weight, bias;
};
FoldedConv fold_batch_norm(const Tensor& weight, const Tensor& conv_bias, const Tensor& bn_weight,
                           const Tensor& bn_bias, const Tensor& running_mean, const Tensor& running_var,
                           double eps = 1e-5, Allocator* allocator = nullptr);

// ---- Pooling ----
// stride defaults to the kernel size; padding at most half the kernel; count_include_pad as
// PyTorch's default (average pooling divides by the window including padding).
struct PoolOptions {
  Dims kernel{};
  Dims stride{};  // empty: equal to kernel
  Dims padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
};
Tensor max_pool2d(const Tensor& x, const PoolOptions& options);
Tensor max_pool3d(const Tensor& x, const PoolOptions& options);
Tensor avg_pool2d(const Tensor& x, const PoolOptions& options);
Tensor avg_pool3d(const Tensor& x, const PoolOptions& options);
// avg_pool2d(conv2d(x, weight, bias, conv, activation), pool) in values and gradients, as one
// op: where the kernels take it (few-channel convolutions with a 2x2 stride-2 pooling, LeNet's
// layers) each image's output is pooled while it is in cache and the full-size gradient of the
// convolution's output is never written. Otherwise the two ops run one after the other.
Tensor conv2d_avg_pool2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const ConvOptions& conv,
                         std::optional<Activation> activation, const PoolOptions& pool);
// Average pooling to a fixed output size; (1,1) is global average pooling.
Tensor adaptive_avg_pool2d(const Tensor& x, Dims output_size);
Tensor adaptive_avg_pool3d(const Tensor& x, Dims output_size);

// ---- Batch normalization over (N,C) or (N,C,spatial...) ----
// training: normalise with the batch statistics and update running_mean/running_var in place
// (running = (1 - momentum) running + momentum batch, variance unbiased), when they are defined;
// evaluation: normalise with the running statistics. weight/bias (C) may be undefined.
// `activation`, when set, is applied to the output in the same pass, as for conv2d.
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5, std::optional<Activation> activation = {});
// avg_pool2d(batch_norm(x, ..., activation), pool) in values and gradients (and the running
// statistics' update), as one op: in training, where the kernels take it (plain few-channel
// (N, C, H, W) input with a 2x2 stride-2 pooling, LeNet-BN's layers), each plane is pooled as it
// is normalised and the full-size gradient of the batch norm's output is never written.
// Otherwise, and in evaluation, the two ops run one after the other.
Tensor batch_norm_avg_pool2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& running_mean,
                             const Tensor& running_var, bool training, double momentum, double eps,
                             std::optional<Activation> activation, const PoolOptions& pool);
// Shorthand for the ReLU post-op: batch_norm(..., momentum, eps, Activation::Relu).
Tensor batch_norm_relu(const Tensor& x, const Tensor& weight, const Tensor& bias,
                       const Tensor& running_mean, const Tensor& running_var, bool training,
                       double momentum = 0.1, double eps = 1e-5);

// ---- Activations ----
Tensor activation(const Tensor& x, Activation kind);  // relu, sigmoid or tanh by kind
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
// Inverted dropout: in training, zero each element with probability p and scale the rest by
// 1/(1-p); identity in evaluation. Uses default_generator() when gen is null.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- Shape ----
Tensor cat(const std::vector<Tensor>& tensors, int dim);  // Inception's channel concatenation

// ---- Losses ----
Tensor log_softmax(const Tensor& x, int dim);
Tensor softmax(const Tensor& x, int dim);
// Mean over the batch of -log softmax(logits)[target]: logits (N,K), targets (N) of dtype I64.
// label_smoothing e mixes the one-hot target with the uniform distribution (1-e, e/K).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing = 0.0);

}  // namespace strata
