// An imported ONNX model as a Module: its forward runs the file's nodes in order, each as the
// Strata ops of its operator (onnx/import_ops.cpp), so that autograd, tracing, compilation
// (hybridize) and export see it as they see a model written in C++.
//
// The file's float initializers are the module's state under their own names: a dotted name
// ("1.0.conv1.weight", as PyTorch names them) becomes a parameter "weight" of a child module
// "1" / "0" / "conv1", so state_dict() gives back the file's names. Initializers a
// BatchNormalization reads as its running mean and variance, and float constants that no
// weight-taking input reads, are buffers; the weights of Conv, Gemm, MatMul and the scale and bias
// of BatchNormalization are parameters (trainable). Integer initializers (shapes, axes) are
// constants of the graph.
#pragma once

#include <onnx/onnx_pb.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "strata/nn/module.hpp"

namespace strata::onnx {

// A value while the forward runs: a tensor, or a list of integers computed from shapes (Shape,
// Gather, Concat, ... of int64 values fold to these, as onnxruntime's constant folding does).
struct RunValue {
  Tensor tensor;
  bool is_ints = false;
  bool scalar = false;  // ints of rank 0 (a single integer)
  std::vector<int64_t> ints = {};
  // An integer matrix's rows (ints in row-major order; PyTorch's pads pass through one); 0: a list.
  int64_t rows = 0;
};

struct ImportedNode {
  std::string name, op;
  std::vector<std::string> inputs, outputs;  // "" for an optional input left out
  std::map<std::string, ::onnx::AttributeProto> attributes;
  // "node 'name' (Op)" for messages.
  std::string where() const;
};

// Runs one node: reads its inputs from `values`, writes its outputs there. `training`: the
// module's mode (batch norms and dropout follow it); `opset`: the file's default-domain opset.
void run_node(const ImportedNode& node, std::map<std::string, RunValue>& values, bool training, int opset);

// Checks, before anything runs, that the node's operator is one import supports and that its
// attributes are of the kinds the operator takes; throws naming the node and what is supported.
void check_node(const ImportedNode& node, int opset);

// An initializer or Constant tensor: float tensors as f32 tensors, int64 and int32 ones as
// integers. Checks dims and data size against each other before allocating; throws naming `where`.
RunValue constant_value(const ::onnx::TensorProto& t, const std::string& where);

// A Constant node's value (computed once, when the file is read).
RunValue constant_node_value(const ImportedNode& node);

// The operators import supports, for messages: "Add, AveragePool, ...".
std::string supported_operators();

class OnnxModel : public nn::Module {
 public:
  OnnxModel(std::string name, int opset, std::string input, std::string output, std::vector<ImportedNode> nodes,
            std::map<std::string, RunValue> constants);
  Tensor forward(const Tensor& x) override;

  // Registers the initializer `file_name` as state `name`, in the child module its dots say
  // ("1.0.conv1.weight": parameter "weight" of child "1" / "0" / "conv1").
  void add_state(const std::string& file_name, const std::string& name, const Tensor& tensor, bool parameter);

 private:
  int opset_;
  std::string input_, output_;
  std::vector<ImportedNode> nodes_;
  std::map<std::string, RunValue> constants_;  // integer initializers and Constant-free literals
  std::map<std::string, Tensor> state_;        // every float initializer by its file name
  // Per node, the values no later node reads (the forward lets go of them there, so that an eager
  // run or a trace holds what a model written in C++ would, not every activation at once).
  std::vector<std::vector<std::string>> released_after_;
};

}  // namespace strata::onnx
