// The graph of a model's forward pass (Gluon's hybridized symbol, onnxruntime's Graph): values
// with their shape, dtype and layout, and nodes that are Strata's ops with their attributes.
// A graph is made by tracing a forward pass for one input shape (graph/trace.hpp), rewritten by
// passes (graph/passes.hpp) and run by a Program (graph/program.hpp), which calls the same ops
// as eager code does, so autograd records through it as it does through eager code.
//
// Parameters and buffers are referenced, not copied: a Value of kind Parameter holds the module's
// own tensor handle, so training updates and load_state_dict are seen by every run.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "strata/ops.hpp"

namespace strata::graph {

using ValueId = int32_t;
inline constexpr ValueId kNoValue = -1;

enum class ValueKind : uint8_t {
  Input,      // the graph's input
  Parameter,  // a module's parameter (trainable), referenced
  Buffer,     // a module's buffer (running statistics, counters), referenced
  Constant,   // a tensor the forward pass read from outside the module, referenced
  Computed,   // a node's output
};

struct Value {
  ValueKind kind = ValueKind::Computed;
  Shape shape;
  DType dtype = DType::F32;
  Layout layout = Layout::Strided;  // as traced, then as the program's first run gave it
  std::string name;                 // a parameter's or buffer's state_dict key
  Tensor tensor;                    // Parameter, Buffer, Constant: the referenced tensor
};

enum class OpKind : uint8_t {
  Conv,             // conv2d / conv3d: x, weight, bias?  (+ residual)
  BatchNorm,        // batch_norm: x, weight?, bias?, running_mean?, running_var?  (+ residual)
  Activation,       // any strata::Activation (relu, ..., hardswish, clamp): x
  Add,              // a + b (with an activation epilogue: add_activation)
  Binary,           // a - b, a * b, a / b
  Scalar,           // x + s, x * s, s - x, s / x
  Pool,             // max or average pooling, 2-D or 3-D: x
  AdaptiveAvgPool,  // x
  Linear,           // x, weight, bias?
  Cat,              // tensors...
  Reshape,          // x (view, reshape, flatten)
  Permute,          // x (permute, transpose): a view with the dimensions reordered
  Slice,            // x: a view of every step-th index in [start, end) of one dimension
  Pad,              // x: padded or cropped (strata::pad)
  Mean,             // x: the mean over some dimensions
  Dropout,          // x
  Softmax,          // softmax / log_softmax: x
  FoldBatchNorm,    // conv weight, conv bias?, bn weight?, bn bias?, mean, var -> folded weight, bias
  AddInPlace,       // target += s: a buffer's counter (num_batches_tracked); no output
  Call,             // a module's forward run eagerly (what the trace could not see into): x
};

struct ConvAttrs {
  int nd = 2;
  ConvOptions options;
  bool operator==(const ConvAttrs&) const = default;
};
struct BatchNormAttrs {
  bool training = false;
  double momentum = 0.1, eps = 1e-5;
  bool operator==(const BatchNormAttrs&) const = default;
};
struct ActivationAttrs {
  Activation kind = Activation::Relu;
  bool operator==(const ActivationAttrs&) const = default;
};
enum class BinaryKind : uint8_t { Sub, Mul, Div };
struct BinaryAttrs {
  BinaryKind kind = BinaryKind::Mul;
  bool operator==(const BinaryAttrs&) const = default;
};
enum class ScalarKind : uint8_t { Add, Mul, ReverseSub, ReverseDiv };  // x + s, x * s, s - x, s / x
struct ScalarAttrs {
  ScalarKind kind = ScalarKind::Mul;
  double value = 0.0;
  bool operator==(const ScalarAttrs&) const = default;
};
struct PoolAttrs {
  int nd = 2;
  Pooling pooling;
  bool operator==(const PoolAttrs&) const = default;
};
struct AdaptivePoolAttrs {
  int nd = 2;
  Dims output_size;
  bool operator==(const AdaptivePoolAttrs&) const = default;
};
struct CatAttrs {
  int dim = 1;
  bool operator==(const CatAttrs&) const = default;
};
struct ReshapeAttrs {
  Shape shape;
  bool operator==(const ReshapeAttrs&) const = default;
};
struct PermuteAttrs {
  std::vector<int> dims;
  bool operator==(const PermuteAttrs&) const = default;
};
struct SliceAttrs {
  int dim = 0;
  int64_t start = 0, end = 0, step = 1;
  bool operator==(const SliceAttrs&) const = default;
};
struct PadAttrs {
  std::vector<int64_t> pads;  // each dimension's start, then each dimension's end
  PadMode mode = PadMode::Constant;
  double value = 0.0;
  bool operator==(const PadAttrs&) const = default;
};
struct MeanAttrs {
  std::vector<int> dims;
  bool keepdim = false;
  bool operator==(const MeanAttrs&) const = default;
};
struct DropoutAttrs {
  double p = 0.5;
  bool training = false;
  bool operator==(const DropoutAttrs&) const = default;
};
struct SoftmaxAttrs {
  int dim = -1;
  bool log = false;
  bool operator==(const SoftmaxAttrs&) const = default;
};
struct FoldAttrs {
  double eps = 1e-5;
  bool operator==(const FoldAttrs&) const = default;
};
struct AddInPlaceAttrs {
  double value = 1.0;
  bool operator==(const AddInPlaceAttrs&) const = default;
};
struct CallAttrs {
  std::function<Tensor(const Tensor&)> call;
  // Code the trace could not see: never known to equal another call.
  bool operator==(const CallAttrs&) const { return false; }
};
using Attrs = std::variant<std::monostate, ConvAttrs, BatchNormAttrs, ActivationAttrs, BinaryAttrs, ScalarAttrs,
                           PoolAttrs, AdaptivePoolAttrs, CatAttrs, ReshapeAttrs, PermuteAttrs, SliceAttrs, PadAttrs, MeanAttrs,
                           DropoutAttrs, SoftmaxAttrs, FoldAttrs, AddInPlaceAttrs, CallAttrs>;

// An epilogue's depthwise 3x3 convolution (strata::DepthwiseConv); its weight and bias are node
// inputs.
struct DepthwiseAttrs {
  int64_t stride = 1;
  std::optional<Activation> activation;
  bool operator==(const DepthwiseAttrs&) const = default;
};

// What follows a node's op in the same call (strata::Epilogue): a Conv's, BatchNorm's or Add's
// result + residual (the node's last input), then an activation, then a pooling or a depthwise
// convolution (whose weight and bias are the two inputs before the residual, or the last two).
struct EpilogueAttrs {
  bool residual = false;
  std::optional<Activation> activation;
  std::optional<Pooling> pool;
  std::optional<DepthwiseAttrs> depthwise;
  bool empty() const { return !residual && !activation && !pool && !depthwise; }
  // How many of the node's inputs are the epilogue's (after the op's own).
  std::size_t input_count() const { return (residual ? 1 : 0) + (depthwise ? 2 : 0); }
  bool operator==(const EpilogueAttrs&) const = default;
};

struct Node {
  OpKind op = OpKind::Call;
  Attrs attrs;
  std::vector<ValueId> inputs;   // kNoValue where an optional input (a bias) is not given
  std::vector<ValueId> outputs;  // one, but two for FoldBatchNorm and none for AddInPlace
  EpilogueAttrs epilogue;
  std::string scope;   // the dotted path of the module whose forward ran the op ("" for the root)
  std::string layer;   // that module's type ("Conv2d")
  std::string folded;  // Conv: the scope of the batch norm folded into it, when there is one
  std::string note;    // Call: why the trace ran this module eagerly

  template <class A>
  const A& get() const {
    return std::get<A>(attrs);
  }
  ValueId output() const { return outputs.empty() ? kNoValue : outputs.front(); }
};

struct Graph {
  std::vector<Value> values;
  std::vector<Node> nodes;  // in an order that runs: every input produced before it is used
  ValueId input = kNoValue, output = kNoValue;

  ValueId add(Value value);
  // For each value, how many node inputs read it (plus one for the graph's output).
  std::vector<int> use_counts() const;
  // The index of the node producing each value (-1 for values no node produces).
  std::vector<int> producers() const;
  // The op's name with its epilogue: "conv2d", "conv2d+bn+add+relu+max_pool2d", "linear".
  std::string op_name(const Node& node) const;
  // One line per node: "%7 = conv2d+bn+relu(%3, 1.0.conv1.weight, ...) [128,64,24,24] blocked  # 1.0.conv1 (Conv2d)".
  std::string str() const;
  // Multiply-accumulates of one run: each convolution's and linear layer's output elements times
  // the products summed into each.
  int64_t multiply_accumulates() const;
  // The same for one node (0 for a node that is not a convolution or linear layer).
  int64_t multiply_accumulates(const Node& node) const;
  // Drops the values no node, input or output refers to, renumbering the rest.
  void compact();
  // For each node, whether it is a fold or pad (FoldBatchNorm, Pad) of the model's state alone,
  // or of what such nodes made: what a program computes once, and again when the state changes
  // (the batch-norm folds, pad_channels' weights).
  std::vector<bool> state_derived() const;
};

// Whether a value's tensor comes from outside the graph (it is not computed by a node).
inline bool is_leaf(ValueKind kind) { return kind != ValueKind::Computed; }

}  // namespace strata::graph
