// Layer modules: state (parameters, options) plus one call into ops. Printing matches PyTorch.
#include <bit>
#include <charconv>
#include <cmath>
#include <sstream>

#include "ops/window.hpp"
#include "strata/autograd.hpp"
#include "strata/nn/init.hpp"
#include "strata/nn/layers.hpp"
#include "strata/random.hpp"
#include "strata/storage.hpp"

namespace strata::nn {
namespace {

// "(5, 5)" for the nd spatial values of `dims` (one value repeated when only one was given).
std::string tuple(const Dims& dims, int nd, int64_t fallback) {
  std::string s = "(";
  for (int i = 0; i < nd; ++i) {
    if (i) s += ", ";
    s += std::to_string(dims.empty() ? fallback : dims[dims.size() == 1 ? 0 : i]);
  }
  return s + ")";
}

bool all_equal(const Dims& dims, int64_t value) {
  for (int i = 0; i < dims.size(); ++i)
    if (dims[i] != value) return false;
  return true;
}

const char* py_bool(bool b) { return b ? "True" : "False"; }

// A double as Python's repr() prints it: the shortest digits that read back exactly, in
// scientific notation when the exponent is below -4 or at least 16 ("1e-05", "2.5e-06"), else
// positional with at least one decimal ("0.1", "1.0", "0.001").
std::string py_float(double value) {
  if (!std::isfinite(value)) return std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, std::chars_format::scientific);
  const std::string sci(buf, end);  // "-1.2345e-05": sign, digits with one point, exponent
  const std::size_t e = sci.find('e');
  const int exponent = std::stoi(sci.substr(e + 1));
  const bool negative = sci[0] == '-';
  std::string digits = sci.substr(negative ? 1 : 0, e - (negative ? 1 : 0));
  std::erase(digits, '.');
  std::string out = negative ? "-" : "";
  if (exponent < -4 || exponent >= 16) {
    out += digits.substr(0, 1);
    if (digits.size() > 1) out.append(".").append(digits, 1);
    const int a = std::abs(exponent);
    return out + (exponent < 0 ? "e-" : "e+") + (a < 10 ? "0" : "") + std::to_string(a);
  }
  if (exponent < 0) return out + "0." + std::string(-exponent - 1, '0') + digits;
  if (static_cast<int>(digits.size()) <= exponent + 1) return out + digits + std::string(exponent + 1 - digits.size(), '0') + ".0";
  return out + digits.substr(0, exponent + 1) + "." + digits.substr(exponent + 1);
}

// PyTorch's default for Conv and Linear: weight Kaiming-uniform with a = sqrt(5), bias
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
void reset_like_pytorch(Tensor& weight, Tensor& bias) {
  init::kaiming_uniform(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = 1.0 / std::sqrt(static_cast<double>(init::fans(weight).fan_in));
    init::uniform(bias, -bound, bound);
  }
}

}  // namespace

// ---- Sequential ----

Sequential::Sequential(std::initializer_list<ModulePtr> modules) : Module("Sequential") {
  for (const auto& m : modules) push_back(m);
}

Sequential::Sequential(const std::vector<ModulePtr>& modules) : Module("Sequential") {
  for (const auto& m : modules) push_back(m);
}

void Sequential::push_back(ModulePtr module) { add_child(std::to_string(children().size()), std::move(module)); }

Tensor Sequential::forward(const Tensor& x) {
  Tensor y = x;
  for (const auto& [_, layer] : children()) y = (*layer)(y);
  return y;
}

// ---- Convolution ----

ConvNd::ConvNd(const char* type, int nd, int64_t in_channels, int64_t out_channels, Dims kernel_size,
               const ConvOptions& options, bool with_bias)
    : Module(type), nd_(nd), in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel_size), options_(options) {
  STRATA_CHECK(in_channels > 0 && out_channels > 0, type, ": channel counts must be positive, got ", in_channels,
               " and ", out_channels);
  STRATA_CHECK(options.groups > 0 && in_channels % options.groups == 0 && out_channels % options.groups == 0, type,
               ": in_channels ", in_channels, " and out_channels ", out_channels, " must be divisible by groups ",
               options.groups);
  const Spatial k = spatial_arg(kernel_size, nd, 1, {0, 0, 0}, type, "kernel_size");
  Shape shape{out_channels, in_channels / options.groups};
  for (int i = 3 - nd; i < 3; ++i) {
    STRATA_CHECK(k[i] > 0, type, ": kernel_size must be positive, got ", spatial_str(k, nd));
    shape.push_back(k[i]);
  }
  weight = register_parameter("weight", empty(shape));
  if (with_bias) bias = register_parameter("bias", empty({out_channels}));
  reset_like_pytorch(weight, bias);
}

Tensor ConvNd::forward(const Tensor& x) {
  return nd_ == 2 ? conv2d(x, weight, bias, options_) : conv3d(x, weight, bias, options_);
}

std::string ConvNd::extra_repr() const {
  std::ostringstream s;
  s << in_channels_ << ", " << out_channels_ << ", kernel_size=" << tuple(kernel_, nd_, 1)
    << ", stride=" << tuple(options_.stride, nd_, 1);
  if (!all_equal(options_.padding, 0)) s << ", padding=" << tuple(options_.padding, nd_, 0);
  if (!all_equal(options_.dilation, 1)) s << ", dilation=" << tuple(options_.dilation, nd_, 1);
  if (options_.groups != 1) s << ", groups=" << options_.groups;
  if (!bias.defined()) s << ", bias=False";
  return s.str();
}

// ---- Pooling ----

PoolNd::PoolNd(const char* type, PoolMode mode, int nd, const PoolOptions& options)
    : Module(type), mode_(mode), nd_(nd), options_(options) {
  STRATA_CHECK(!options.kernel.empty(), type, ": kernel_size is required");
}

Tensor PoolNd::forward(const Tensor& x) {
  if (mode_ == PoolMode::Max) return nd_ == 2 ? max_pool2d(x, options_) : max_pool3d(x, options_);
  return nd_ == 2 ? avg_pool2d(x, options_) : avg_pool3d(x, options_);
}

std::string PoolNd::extra_repr() const {
  // PyTorch prints the arguments as given: a single int stays an int.
  auto arg = [this](const Dims& d, int64_t fallback) {
    if (d.empty()) return std::to_string(fallback);
    if (d.size() == 1) return std::to_string(d[0]);
    return tuple(d, nd_, fallback);
  };
  const Dims& stride = options_.stride.empty() ? options_.kernel : options_.stride;
  std::ostringstream s;
  s << "kernel_size=" << arg(options_.kernel, 1) << ", stride=" << arg(stride, 1)
    << ", padding=" << arg(options_.padding, 0);
  // PyTorch's average pooling prints only these three; max pooling adds dilation and ceil_mode.
  if (mode_ == PoolMode::Max) s << ", dilation=1, ceil_mode=" << py_bool(options_.ceil_mode);
  return s.str();
}

AdaptiveAvgPoolNd::AdaptiveAvgPoolNd(const char* type, int nd, Dims output_size)
    : Module(type), nd_(nd), output_size_(output_size) {}

Tensor AdaptiveAvgPoolNd::forward(const Tensor& x) {
  return nd_ == 2 ? adaptive_avg_pool2d(x, output_size_) : adaptive_avg_pool3d(x, output_size_);
}

std::string AdaptiveAvgPoolNd::extra_repr() const {
  return "output_size=" + (output_size_.size() == 1 ? std::to_string(output_size_[0]) : tuple(output_size_, nd_, 1));
}

// ---- Activations ----

std::string LeakyReLU::extra_repr() const {
  std::ostringstream s;
  s << "negative_slope=" << kind().alpha;
  return s.str();
}

std::string Hardtanh::extra_repr() const {
  std::ostringstream s;
  s << "min_val=" << min_ << ", max_val=" << max_;
  return s.str();
}

// ---- Padding ----

PadNd::PadNd(const std::string& type, int nd, std::vector<int64_t> padding, PadMode mode, double value)
    : Module(type), nd_(nd), padding_(std::move(padding)), mode_(mode), value_(value) {
  STRATA_CHECK(static_cast<int>(padding_.size()) == 2 * nd, type, ": padding takes ", 2 * nd,
               " amounts (before and after each of the last ", nd, " dimensions, the last first), got ",
               padding_.size());
}

Tensor PadNd::forward(const Tensor& x) {
  const int ndim = x.ndim();
  const bool constant = mode_ == PadMode::Constant;
  STRATA_CHECK(constant ? ndim >= nd_ : ndim == nd_ + 1 || ndim == nd_ + 2, type_name(), ": expected ",
               constant ? "an input of at least " + std::to_string(nd_) + " dimensions"
                        : "an input of " + std::to_string(nd_ + 1) + " or " + std::to_string(nd_ + 2) +
                              " dimensions ((C, ...) or (N, C, ...))",
               ", got shape ", x.shape());
  // PyTorch's order (last dimension first, before and after) to pad()'s (all befores, all afters).
  std::vector<int64_t> pads(2 * static_cast<std::size_t>(ndim), 0);
  for (int i = 0; i < nd_; ++i) {
    const int dim = ndim - 1 - i;
    pads[dim] = padding_[2 * i];
    pads[ndim + dim] = padding_[2 * i + 1];
  }
  return pad(x, pads, mode_, value_);
}

std::string PadNd::extra_repr() const {
  std::string s = "(";
  for (std::size_t i = 0; i < padding_.size(); ++i) s += (i ? ", " : "") + std::to_string(padding_[i]);
  s += ")";
  if (type_name().rfind("ConstantPad", 0) == 0) return "padding=" + s + ", value=" + py_float(value_);
  return s;
}

// ---- Batch normalization ----

BatchNormNd::BatchNormNd(const char* type, int input_ndim, int64_t num_features, double eps, double momentum)
    : Module(type), input_ndim_(input_ndim), num_features_(num_features), eps_(eps), momentum_(momentum) {
  STRATA_CHECK(num_features > 0, type, ": num_features must be positive, got ", num_features);
  STRATA_CHECK(eps > 0, type, ": eps must be positive, got ", eps);
  STRATA_CHECK(momentum >= 0 && momentum <= 1, type, ": momentum must be in [0, 1], got ", momentum);
  weight = register_parameter("weight", ones({num_features}));
  bias = register_parameter("bias", zeros({num_features}));
  running_mean = register_buffer("running_mean", zeros({num_features}));
  running_var = register_buffer("running_var", ones({num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, DType::I64));
}

Tensor BatchNormNd::forward(const Tensor& x) {
  if (input_ndim_ == 0) {
    STRATA_CHECK(x.ndim() == 2 || x.ndim() == 3, type_name(), ": expected a 2-D (N, C) or 3-D (N, C, L) input, got ",
                 x.shape());
  } else {
    STRATA_CHECK(x.ndim() == input_ndim_, type_name(), ": expected a ", input_ndim_, "-D input ",
                 input_ndim_ == 4 ? "(N, C, H, W)" : "(N, C, D, H, W)", ", got ", x.shape());
  }
  if (is_training()) num_batches_tracked.add_(1.0);
  if (is_training() && sync_) return sync_->forward(*this, x);
  return batch_norm(x, weight, bias, running_mean, running_var, is_training(), momentum_, eps_);
}

std::string BatchNormNd::extra_repr() const {
  std::ostringstream s;
  s << num_features_ << ", eps=" << py_float(eps_) << ", momentum=" << py_float(momentum_)
    << ", affine=True, track_running_stats=True";
  if (sync_) s << ", " << sync_->describe();
  return s.str();
}

// ---- Linear ----

Linear::Linear(int64_t in_features, int64_t out_features, bool with_bias)
    : Module("Linear"), in_features_(in_features), out_features_(out_features) {
  STRATA_CHECK(in_features > 0 && out_features > 0, "Linear: feature counts must be positive, got ", in_features,
               " and ", out_features);
  weight = register_parameter("weight", empty({out_features, in_features}));
  if (with_bias) bias = register_parameter("bias", empty({out_features}));
  reset_like_pytorch(weight, bias);
}

Tensor Linear::forward(const Tensor& x) { return linear(x, weight, bias); }

std::string Linear::extra_repr() const {
  return "in_features=" + std::to_string(in_features_) + ", out_features=" + std::to_string(out_features_) +
         ", bias=" + py_bool(bias.defined());
}

// ---- Dropout, Flatten ----

Dropout::Dropout(double p) : Module("Dropout"), p_(p) {
  STRATA_CHECK(p >= 0 && p <= 1, "Dropout: probability must be in [0, 1], got ", p);
}

std::string Dropout::extra_repr() const {
  std::ostringstream s;
  s << "p=" << py_float(p_) << ", inplace=False";
  return s.str();
}

std::string Flatten::extra_repr() const {
  return "start_dim=" + std::to_string(start_) + ", end_dim=" + std::to_string(end_);
}

}  // namespace strata::nn
