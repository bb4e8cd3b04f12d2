// The layers of torch.nn that CNNs are made of. Each holds its parameters and options and
// delegates the math to one op (include/strata/ops.hpp). Default initialisation is PyTorch's
// (Kaiming-uniform with a = sqrt(5) for weights, U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for biases).
#pragma once
#pragma GCC visibility push(default)

#include <initializer_list>
#include <memory>
#include <optional>
#include <vector>

#include "strata/nn/module.hpp"
#include "strata/ops.hpp"

namespace strata::nn {

using ModulePtr = std::shared_ptr<Module>;

// Children named "0", "1", ...; forward applies them in order. A model compiled with
// strata::compile (or Module::hybridize) fuses neighbouring layers (src/graph); the Sequential
// itself only chains them.
class Sequential : public Module {
 public:
  Sequential() : Module("Sequential") {}
  Sequential(std::initializer_list<ModulePtr> modules);
  explicit Sequential(const std::vector<ModulePtr>& modules);
  void push_back(ModulePtr module);
  std::size_t size() const { return children().size(); }
  const ModulePtr& operator[](std::size_t i) const { return children().at(i).second; }
  Tensor forward(const Tensor& x) override;
};

// std::make_shared<Sequential> of the given modules.
inline std::shared_ptr<Sequential> sequential(std::initializer_list<ModulePtr> modules) {
  return std::make_shared<Sequential>(std::vector<ModulePtr>(modules));
}

// Convolution over 2 or 3 spatial dims; weight (out, in/groups, k...), bias (out).
class ConvNd : public Module {
 public:
  ConvNd(const char* type, int nd, int64_t in_channels, int64_t out_channels, Dims kernel_size,
         const ConvOptions& options, bool bias);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int nd() const { return nd_; }
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  const ConvOptions& options() const { return options_; }
  Tensor weight, bias;  // bias undefined when built without one

 private:
  int nd_;
  int64_t in_channels_, out_channels_;
  Dims kernel_;
  ConvOptions options_;
};

class Conv2d : public ConvNd {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Dims kernel_size, const ConvOptions& options = {},
         bool with_bias = true)
      : ConvNd("Conv2d", 2, in_channels, out_channels, kernel_size, options, with_bias) {}
};

class Conv3d : public ConvNd {
 public:
  Conv3d(int64_t in_channels, int64_t out_channels, Dims kernel_size, const ConvOptions& options = {},
         bool with_bias = true)
      : ConvNd("Conv3d", 3, in_channels, out_channels, kernel_size, options, with_bias) {}
};

class PoolNd : public Module {
 public:
  PoolNd(const char* type, PoolMode mode, int nd, const PoolOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  PoolMode mode() const { return mode_; }
  int nd() const { return nd_; }
  const PoolOptions& options() const { return options_; }

 private:
  PoolMode mode_;
  int nd_;
  PoolOptions options_;
};

class MaxPool2d : public PoolNd {
 public:
  explicit MaxPool2d(const PoolOptions& options) : PoolNd("MaxPool2d", PoolMode::Max, 2, options) {}
  MaxPool2d(Dims kernel, Dims stride = {}, Dims padding = 0)
      : MaxPool2d(PoolOptions{.kernel = kernel, .stride = stride, .padding = padding}) {}
};
class MaxPool3d : public PoolNd {
 public:
  explicit MaxPool3d(const PoolOptions& options) : PoolNd("MaxPool3d", PoolMode::Max, 3, options) {}
  MaxPool3d(Dims kernel, Dims stride = {}, Dims padding = 0)
      : MaxPool3d(PoolOptions{.kernel = kernel, .stride = stride, .padding = padding}) {}
};
class AvgPool2d : public PoolNd {
 public:
  explicit AvgPool2d(const PoolOptions& options) : PoolNd("AvgPool2d", PoolMode::Avg, 2, options) {}
  AvgPool2d(Dims kernel, Dims stride = {}, Dims padding = 0)
      : AvgPool2d(PoolOptions{.kernel = kernel, .stride = stride, .padding = padding}) {}
};
class AvgPool3d : public PoolNd {
 public:
  explicit AvgPool3d(const PoolOptions& options) : PoolNd("AvgPool3d", PoolMode::Avg, 3, options) {}
  AvgPool3d(Dims kernel, Dims stride = {}, Dims padding = 0)
      : AvgPool3d(PoolOptions{.kernel = kernel, .stride = stride, .padding = padding}) {}
};

class AdaptiveAvgPoolNd : public Module {
 public:
  AdaptiveAvgPoolNd(const char* type, int nd, Dims output_size);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  int nd_;
  Dims output_size_;
};
class AdaptiveAvgPool2d : public AdaptiveAvgPoolNd {
 public:
  explicit AdaptiveAvgPool2d(Dims output_size) : AdaptiveAvgPoolNd("AdaptiveAvgPool2d", 2, output_size) {}
};
class AdaptiveAvgPool3d : public AdaptiveAvgPoolNd {
 public:
  explicit AdaptiveAvgPool3d(Dims output_size) : AdaptiveAvgPoolNd("AdaptiveAvgPool3d", 3, output_size) {}
};

class BatchNormNd;

// Batch statistics that span more than this process's batch: in training, a batch norm with a
// BatchNormSync normalises its input through it instead of by its own batch's statistics
// (dist::SyncBatchNorm: over the batches of every rank of a data-parallel job).
class BatchNormSync {
 public:
  virtual ~BatchNormSync() = default;
  // The training-mode output of `layer` for its input x (the running statistics updated).
  virtual Tensor forward(BatchNormNd& layer, const Tensor& x) = 0;
  // For the layer's printout: "sync over 2 ranks".
  virtual std::string describe() const = 0;
};

// Batch normalization; BatchNorm1d takes (N,C) or (N,C,L), 2d (N,C,H,W), 3d (N,C,D,H,W).
// Parameters weight (C) = 1, bias (C) = 0; buffers running_mean (C) = 0, running_var (C) = 1,
// num_batches_tracked (i64 scalar), as PyTorch.
class BatchNormNd : public Module {
 public:
  BatchNormNd(const char* type, int input_ndim, int64_t num_features, double eps, double momentum);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int input_ndim() const { return input_ndim_; }  // 4 for BatchNorm2d, 5 for 3d, 0 for 1d (2-D or 3-D input)
  int64_t num_features() const { return num_features_; }
  double eps() const { return eps_; }
  double momentum() const { return momentum_; }
  // Training with statistics over more than this process's batch (dist::convert_sync_batch_norm
  // sets it; null, the default: this batch alone). Evaluation always uses the running statistics.
  void set_sync(std::shared_ptr<BatchNormSync> sync) { sync_ = std::move(sync); }
  const std::shared_ptr<BatchNormSync>& sync() const { return sync_; }
  Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  int input_ndim_;  // 0 for BatchNorm1d (accepts 2-D or 3-D)
  int64_t num_features_;
  double eps_, momentum_;
  std::shared_ptr<BatchNormSync> sync_;
};
class BatchNorm1d : public BatchNormNd {
 public:
  explicit BatchNorm1d(int64_t num_features, double eps = 1e-5, double momentum = 0.1)
      : BatchNormNd("BatchNorm1d", 0, num_features, eps, momentum) {}
};
class BatchNorm2d : public BatchNormNd {
 public:
  explicit BatchNorm2d(int64_t num_features, double eps = 1e-5, double momentum = 0.1)
      : BatchNormNd("BatchNorm2d", 4, num_features, eps, momentum) {}
};
class BatchNorm3d : public BatchNormNd {
 public:
  explicit BatchNorm3d(int64_t num_features, double eps = 1e-5, double momentum = 0.1)
      : BatchNormNd("BatchNorm3d", 5, num_features, eps, momentum) {}
};

// y = x weight^T + bias; weight (out, in), bias (out).
class Linear : public Module {
 public:
  Linear(int64_t in_features, int64_t out_features, bool bias = true);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;
  int64_t in_features() const { return in_features_; }
  int64_t out_features() const { return out_features_; }
  Tensor weight, bias;

 private:
  int64_t in_features_, out_features_;
};

// A pointwise activation layer.
class ActivationLayer : public Module {
 public:
  Tensor forward(const Tensor& x) override { return activation(x, kind_); }
  Activation kind() const { return kind_; }

 protected:
  ActivationLayer(const char* type, Activation kind) : Module(type), kind_(kind) {}

 private:
  Activation kind_;
};

class ReLU : public ActivationLayer {
 public:
  ReLU() : ActivationLayer("ReLU", Activation::Relu) {}
};

class Sigmoid : public ActivationLayer {
 public:
  Sigmoid() : ActivationLayer("Sigmoid", Activation::Sigmoid) {}
};

class Tanh : public ActivationLayer {
 public:
  Tanh() : ActivationLayer("Tanh", Activation::Tanh) {}
};

class ReLU6 : public ActivationLayer {
 public:
  ReLU6() : ActivationLayer("ReLU6", Activation::Relu6) {}
};

class LeakyReLU : public ActivationLayer {
 public:
  explicit LeakyReLU(double negative_slope = 0.01)
      : ActivationLayer("LeakyReLU", Activation::leaky_relu(negative_slope)) {}
  std::string extra_repr() const override;
};

// min(max(x/6 + 1/2, 0), 1), PyTorch's nn.Hardsigmoid.
class Hardsigmoid : public ActivationLayer {
 public:
  Hardsigmoid() : ActivationLayer("Hardsigmoid", Activation::hard_sigmoid()) {}
};

class Hardswish : public ActivationLayer {
 public:
  Hardswish() : ActivationLayer("Hardswish", Activation::HardSwish) {}
};

// min(max(x, min_val), max_val), PyTorch's nn.Hardtanh.
class Hardtanh : public ActivationLayer {
 public:
  explicit Hardtanh(double min_val = -1.0, double max_val = 1.0)
      : ActivationLayer("Hardtanh", Activation::clamp(min_val, max_val)), min_(min_val), max_(max_val) {}
  std::string extra_repr() const override;

 private:
  double min_, max_;
};

// Inverted dropout in training mode (default_generator()), identity in evaluation mode.
class Dropout : public Module {
 public:
  explicit Dropout(double p = 0.5);
  Tensor forward(const Tensor& x) override { return dropout(x, p_, is_training()); }
  std::string extra_repr() const override;

 private:
  double p_;
};

// Flattens dims start_dim..end_dim into one (default: all but the batch dim), as nn.Flatten.
class Flatten : public Module {
 public:
  explicit Flatten(int start_dim = 1, int end_dim = -1) : Module("Flatten"), start_(start_dim), end_(end_dim) {}
  Tensor forward(const Tensor& x) override { return x.flatten(start_, end_); }
  std::string extra_repr() const override;

 private:
  int start_, end_;
};

// Padding of the last nd dimensions, as PyTorch's nn.ConstantPadNd, ZeroPad2d, ReflectionPadNd
// and ReplicationPadNd (pad() with its mode): `padding` in PyTorch's order, the last dimension
// first (left, right, then top, bottom, then front, back), or one amount for every side. Reflect
// and replicate take inputs of nd + 1 or nd + 2 dimensions (without or with a batch dimension),
// constant ones of nd or more. A negative amount crops.
class PadNd : public Module {
 public:
  PadNd(const std::string& type, int nd, std::vector<int64_t> padding, PadMode mode, double value = 0.0);
  Tensor forward(const Tensor& x) override;
  std::string extra_repr() const override;

 private:
  int nd_;
  std::vector<int64_t> padding_;
  PadMode mode_;
  double value_;
};

template <int Nd>
class ConstantPad : public PadNd {
 public:
  ConstantPad(int64_t padding, double value) : ConstantPad(std::vector<int64_t>(2 * Nd, padding), value) {}
  ConstantPad(std::vector<int64_t> padding, double value)
      : PadNd("ConstantPad" + std::to_string(Nd) + "d", Nd, std::move(padding), PadMode::Constant, value) {}
};
using ConstantPad1d = ConstantPad<1>;
using ConstantPad2d = ConstantPad<2>;
using ConstantPad3d = ConstantPad<3>;

class ZeroPad2d : public PadNd {
 public:
  explicit ZeroPad2d(int64_t padding) : ZeroPad2d(std::vector<int64_t>(4, padding)) {}
  explicit ZeroPad2d(std::vector<int64_t> padding) : PadNd("ZeroPad2d", 2, std::move(padding), PadMode::Constant) {}
};

// Reflect: the input mirrored about its edge element (1 2 3 padded by 2: 3 2 1 2 3 2 1), each
// amount below the size of its dimension. Edge (PyTorch's replication): the edge element repeated
// (1 2 3 padded by 2: 1 1 1 2 3 3 3).
template <int Nd, PadMode Mode>
class CopyingPad : public PadNd {
 public:
  explicit CopyingPad(int64_t padding) : CopyingPad(std::vector<int64_t>(2 * Nd, padding)) {}
  explicit CopyingPad(std::vector<int64_t> padding)
      : PadNd(std::string(Mode == PadMode::Reflect ? "ReflectionPad" : "ReplicationPad") + std::to_string(Nd) + "d",
              Nd, std::move(padding), Mode) {}
};
template <int Nd>
using ReflectionPad = CopyingPad<Nd, PadMode::Reflect>;
template <int Nd>
using ReplicationPad = CopyingPad<Nd, PadMode::Edge>;
using ReflectionPad1d = ReflectionPad<1>;
using ReflectionPad2d = ReflectionPad<2>;
using ReflectionPad3d = ReflectionPad<3>;
using ReplicationPad1d = ReplicationPad<1>;
using ReplicationPad2d = ReplicationPad<2>;
using ReplicationPad3d = ReplicationPad<3>;

}  // namespace strata::nn

#pragma GCC visibility pop
