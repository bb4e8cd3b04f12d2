// The functional API: every op a CNN needs, differentiable, on tensors of any backend.
// Layouts: activations N,C,H,W (2-D ops) or N,C,D,H,W (3-D ops); convolution weights O,I/groups,kH,kW
// (or O,I/groups,kD,kH,kW); linear weights out,in (PyTorch's conventions throughout).
#pragma once
#pragma GCC visibility push(default)

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
  bool operator==(const Dims&) const = default;

 private:
  std::array<int64_t, 3> v_{};
  int n_ = 0;
};

// The pointwise activations, also as a post-op fused into conv2d/conv3d/batch_norm. Each
// derivative but hard-swish's (and a leaky ReLU's of negative slope) is a function of the output
// y, so fused ops keep y and never a pre-activation copy; the others keep their input x
// (Activation::derivative_from_y), and an op that records gradients runs them after itself, not
// as its epilogue.
enum class ActivationKind : uint8_t {
  Relu,         // y = max(x, 0)                        dy/dx = [y > 0]
  Sigmoid,      // y = 1 / (1 + exp(-x))                dy/dx = y (1 - y)
  Tanh,         // y = tanh(x)                          dy/dx = 1 - y^2
  Relu6,        // y = min(max(x, 0), 6)                dy/dx = [0 < y < 6]  (MobileNet's; ONNX Clip(0, 6))
  LeakyRelu,    // y = x > 0 ? x : alpha x              dy/dx = [y > 0] + alpha [y <= 0]  (alpha >= 0; else from x)
  HardSigmoid,  // y = min(max(alpha x + beta, 0), 1)   dy/dx = alpha [0 < y < 1]
  HardSwish,    // y = x min(max(x + 3, 0), 6) / 6      dy/dx = 0 (x < -3), x/3 + 1/2 (x <= 3), 1: from x
  Clamp,        // y = min(max(x, alpha), beta)         dy/dx = [alpha < y < beta]  (bounds may be -inf, inf)
};

// An activation and its parameters (alpha, beta as in ActivationKind's formulas; 0 where unused).
// Activation::Relu and the other kinds convert to one implicitly; the factories below make the
// parametrised ones.
struct Activation {
  static constexpr ActivationKind Relu = ActivationKind::Relu;
  static constexpr ActivationKind Sigmoid = ActivationKind::Sigmoid;
  static constexpr ActivationKind Tanh = ActivationKind::Tanh;
  static constexpr ActivationKind Relu6 = ActivationKind::Relu6;
  static constexpr ActivationKind HardSwish = ActivationKind::HardSwish;

  ActivationKind kind = ActivationKind::Relu;
  double alpha = 0.0, beta = 0.0;

  constexpr Activation(ActivationKind k = ActivationKind::Relu) : kind(k) {}  // NOLINT: implicit on purpose
  // PyTorch's LeakyReLU(negative_slope), ONNX LeakyRelu(alpha).
  static Activation leaky_relu(double negative_slope = 0.01);
  // ONNX HardSigmoid(alpha, beta); PyTorch's Hardsigmoid is alpha 1/6, beta 1/2 (the defaults).
  static Activation hard_sigmoid(double alpha = 1.0 / 6.0, double beta = 0.5);
  // min(max(x, lo), hi), either bound absent; clamp(0, 6) is Relu6 and clamp(0, none) Relu.
  static Activation clamp(std::optional<double> lo, std::optional<double> hi);

  // Whether dy/dx is a function of y (else of x).
  bool derivative_from_y() const;
  bool operator==(const Activation&) const = default;
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

// ---- Linear algebra ----
// (M,K) x (K,N) -> (M,N); batched when either side has more dims (batch dims broadcast).
Tensor matmul(const Tensor& a, const Tensor& b);
// y = x w^T + b: x (*, in), w (out, in), b (out) or undefined -> (*, out).
Tensor linear(const Tensor& x, const Tensor& weight, const Tensor& bias = {});

// ---- Pooling options ----
// stride defaults to the kernel size; padding at most half the kernel; count_include_pad as
// PyTorch's default (average pooling divides by the window including padding).
struct PoolOptions {
  Dims kernel{};
  Dims stride{};  // empty: equal to kernel
  Dims padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;  // average pooling only
  bool operator==(const PoolOptions&) const = default;
};
enum class PoolMode : uint8_t { Max, Avg };
// A 2-D or 3-D pooling of the given kind and options.
struct Pooling {
  PoolMode mode = PoolMode::Max;
  PoolOptions options;
  bool operator==(const Pooling&) const = default;
};

// ---- Epilogues ----
// A depthwise 3x3 convolution (groups = channels, padding 1, stride 1 or 2) and its activation:
// MobileNet's expansion is a 1x1 convolution followed by one.
struct DepthwiseConv {
  Tensor weight;  // (C, 1, 3, 3), C the channels of what it convolves
  Tensor bias;    // (C), or undefined
  int64_t stride = 1;
  std::optional<Activation> activation;
};

// What a convolution or batch norm does with its result in the same op:
//   out = pool(activation(op(x) + residual))
//   out = depthwise.activation(depthwise_conv(activation(op(x) + residual)))   (2-D, no pool)
// each step only when given. The result equals the separate ops in values and gradients up to
// rounding (the separate ops are the specification); where a kernel takes the step into its own
// pass, a tensor and a memory pass fewer each way, and where none does, the op runs the step as
// the separate op. Graph passes (src/graph) fill epilogues from a model's plain layers.
struct Epilogue {
  Tensor residual;                       // of the op's output shape; ResNet's shortcut
  std::optional<Activation> activation;  // any Activation
  std::optional<Pooling> pool;           // then a pooling, of the op's dimensionality
  std::optional<DepthwiseConv> depthwise;  // or then a depthwise convolution (not with a pooling)

  Epilogue() = default;
  Epilogue(Activation a) : activation(a) {}  // NOLINT: implicit, so conv2d(x, w, b, o, Activation::Relu)
  Epilogue(ActivationKind a) : activation(a) {}  // NOLINT: as above
  bool empty() const { return !residual.defined() && !activation && !pool && !depthwise; }
};

// ---- Convolution (cross-correlation, as in the book and PyTorch) ----
// Output size per dimension: floor((n + 2p - d(k-1) - 1)/s) + 1.
struct ConvOptions {
  Dims stride = 1;
  Dims padding = 0;
  Dims dilation = 1;
  int64_t groups = 1;
  bool operator==(const ConvOptions&) const = default;
};
// conv2d(x, w, b, o, Activation::Sigmoid) equals sigmoid(conv2d(x, w, b, o)) in values and
// gradients; see Epilogue for the rest of what may follow in the same op.
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const ConvOptions& options = {}, const Epilogue& epilogue = {});
Tensor conv3d(const Tensor& x, const Tensor& weight, const Tensor& bias = {},
              const ConvOptions& options = {}, const Epilogue& epilogue = {});
// A batch normalization in evaluation mode folded into the convolution before it, for inference:
// conv(x, folded.weight, folded.bias) == batch_norm(conv(x, weight, bias), bn_weight, bn_bias,
// running_mean, running_var, false, _, eps) up to rounding, at the cost of the convolution alone.
// weight (O, I/groups, k...); the rest (O), conv_bias, bn_weight and bn_bias may be undefined.
// The result does not track gradients; its memory comes from `allocator` (cpu_allocator() when
// null; weights kept for many calls go in system_cpu_allocator() memory, see strata/storage.hpp).
struct FoldedConv {
  Tensor weight, bias;
};
FoldedConv fold_batch_norm(const Tensor& weight, const Tensor& conv_bias, const Tensor& bn_weight,
                           const Tensor& bn_bias, const Tensor& running_mean, const Tensor& running_var,
                           double eps = 1e-5, Allocator* allocator = nullptr);

// ---- Pooling ----
Tensor max_pool2d(const Tensor& x, const PoolOptions& options);
Tensor max_pool3d(const Tensor& x, const PoolOptions& options);
Tensor avg_pool2d(const Tensor& x, const PoolOptions& options);
Tensor avg_pool3d(const Tensor& x, const PoolOptions& options);
// Average pooling to a fixed output size; (1,1) is global average pooling.
Tensor adaptive_avg_pool2d(const Tensor& x, Dims output_size);
Tensor adaptive_avg_pool3d(const Tensor& x, Dims output_size);

// ---- Batch normalization over (N,C) or (N,C,spatial...) ----
// training: normalise with the batch statistics and update running_mean/running_var in place
// (running = (1 - momentum) running + momentum batch, variance unbiased), when they are defined;
// evaluation: normalise with the running statistics. weight/bias (C) may be undefined.
// `epilogue` as for conv2d (pooling of 4-D inputs only).
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias,
                  const Tensor& running_mean, const Tensor& running_var, bool training,
                  double momentum = 0.1, double eps = 1e-5, const Epilogue& epilogue = {});

// ---- Activations ----
Tensor activation(const Tensor& x, Activation kind);  // any Activation
Tensor relu(const Tensor& x);
Tensor sigmoid(const Tensor& x);
Tensor tanh(const Tensor& x);
Tensor relu6(const Tensor& x);  // min(max(x, 0), 6), PyTorch's F.relu6
Tensor leaky_relu(const Tensor& x, double negative_slope = 0.01);  // x > 0 ? x : negative_slope x
// min(max(alpha x + beta, 0), 1); PyTorch's F.hardsigmoid with the defaults, ONNX's HardSigmoid.
Tensor hardsigmoid(const Tensor& x, double alpha = 1.0 / 6.0, double beta = 0.5);
Tensor hardswish(const Tensor& x);  // x hardsigmoid(x), PyTorch's F.hardswish (MobileNetV3)
// min(max(x, lo), hi), PyTorch's torch.clamp and F.hardtanh, ONNX's Clip; no gradient at the bounds.
Tensor clamp(const Tensor& x, std::optional<double> lo, std::optional<double> hi);
// Inverted dropout: in training, zero each element with probability p and scale the rest by
// 1/(1-p); identity in evaluation. Uses default_generator() when gen is null.
Tensor dropout(const Tensor& x, double p, bool training, Generator* gen = nullptr);

// ---- Shape ----
Tensor cat(const std::vector<Tensor>& tensors, int dim);  // Inception's channel concatenation

// What pad() puts outside the input: a constant, the input mirrored about its edge element (not
// repeating it: 1 2 3 padded by 2 is 3 2 1 2 3 2 1; PyTorch's ReflectionPad) or the edge element
// repeated (1 1 1 2 3 3 3; PyTorch's ReplicationPad).
enum class PadMode : uint8_t { Constant, Reflect, Edge };
// x padded by pads[d] elements before and pads[ndim + d] after each dimension d (ONNX's order:
// all the starts, then all the ends; 2 * x.ndim() values). A negative amount crops that many.
// Reflect needs every amount below the dimension's size, Edge a nonempty dimension where it pads.
// Gradients: each output element's to the input element it copies (summed where several copy one).
Tensor pad(const Tensor& x, const std::vector<int64_t>& pads, PadMode mode = PadMode::Constant, double value = 0.0);

// ---- Losses ----
Tensor log_softmax(const Tensor& x, int dim);
Tensor softmax(const Tensor& x, int dim);
// Mean over the batch of -log softmax(logits)[target]: logits (N,K), targets (N) of dtype I64.
// label_smoothing e mixes the one-hot target with the uniform distribution (1-e, e/K).
Tensor cross_entropy(const Tensor& logits, const Tensor& targets, double label_smoothing = 0.0);

}  // namespace strata

#pragma GCC visibility pop
