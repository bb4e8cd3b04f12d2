// Module: the building block of networks, as torch.nn.Module.
//
// A module owns named parameters (trainable tensors), named buffers (state such as BatchNorm's
// running statistics) and named child modules. Hierarchical names join these with '.', exactly
// as PyTorch's state_dict() keys ("0.weight", "1.0.conv1.weight", "0.1.running_mean"), so that
// weights move between the two. Networks are composed at run time (Sequential, registered
// factories); a block of your own subclasses Module and overrides forward():
//
//   class Scale : public nn::Module {
//    public:
//     Scale() : Module("Scale") { factor = register_parameter("factor", ones({1})); }
//     Tensor forward(const Tensor& x) override { return x * factor; }
//     Tensor factor;
//   };
#pragma once
#pragma GCC visibility push(default)

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "strata/tensor.hpp"

namespace strata::nn {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

class Module {
 public:
  explicit Module(std::string type_name);
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The computation. Call the module with operator() rather than forward() directly: it also
  // names the layer in errors, reports to an active ForwardObserver (used by summaries), and runs
  // the compiled graph of a hybridized module.
  virtual Tensor forward(const Tensor& x) = 0;
  Tensor operator()(const Tensor& x);
  // operator() with another computation standing in for forward() (Sequential's fused pairs):
  // errors name this layer, an active ForwardObserver sees this layer's input and `compute`'s output.
  Tensor call_as_layer(const Tensor& x, const std::function<Tensor(const Tensor&)>& compute);

  // "Conv2d", "Sequential", ...
  const std::string& type_name() const { return type_name_; }
  // Dotted path from the root this module was registered under ("" for a root).
  std::string path() const;

  // ---- Registration (in the constructor of a subclass) ----
  // Registers and returns `tensor` as a trainable parameter (requires_grad is set).
  Tensor register_parameter(const std::string& name, Tensor tensor);
  // Registers and returns `tensor` as a buffer (saved in the state dict, not trained).
  Tensor register_buffer(const std::string& name, Tensor tensor);
  template <class M>
  std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> module) {
    add_child(name, module);
    return module;
  }

  // ---- Traversal ----
  const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const { return children_; }
  NamedTensors named_parameters() const;  // recursive, PyTorch order and names
  NamedTensors named_buffers() const;
  std::vector<Tensor> parameters() const;
  // Every module below and including this one, with its dotted name ("" for this one).
  std::vector<std::pair<std::string, Module*>> named_modules();
  int64_t num_parameters() const;  // elements of all parameters

  // ---- State ----
  // Parameters and buffers in PyTorch's state_dict() order: each module's own parameters, then
  // its own buffers, then its children in registration order.
  NamedTensors state_dict() const;
  // Copies values in by name. Every missing, unexpected or mis-shaped key is reported in one
  // strata::Error; nothing is changed when any is found.
  void load_state_dict(const NamedTensors& state);

  // ---- Modes and conversion ----
  void train(bool on = true);  // recursive
  void eval() { train(false); }
  bool is_training() const { return training_; }
  // Converts every floating-point parameter and buffer to `dtype` in place (handles stay valid).
  void to(DType dtype);
  void zero_grad();  // drops every parameter's gradient

  // ---- Compilation (Gluon's hybridize) ----
  // From now on (with false: no longer) a call of this module runs its forward as a compiled
  // graph (src/graph): traced on the first call for each input shape and set of modes (each
  // module's train/eval, gradients on or off), optimized once (batch norms folded into
  // convolutions for inference, dropout removed in evaluation, activations, residual adds and
  // poolings fused into the convolution or batch norm before them), then run for every such call.
  // The parameters and buffers are the module's own; values and gradients equal eager mode's up
  // to rounding. Code the trace cannot see into runs eagerly, one module at a time (see
  // graph/trace.hpp). Tracing runs forward once on zeros, undoing its effect on buffers and on
  // the default generator. As with torch.jit.trace, a forward that branches on C++ state other
  // than its input and the modes (a flag of its own) is recorded as it ran when traced: call
  // hybridize(false) and hybridize() again after changing such state, or leave it eager.
  void hybridize(bool on = true);
  bool hybridized() const { return hybrid_ != nullptr; }
  // The graph a hybridized module runs for inputs of `input_shape` in its current modes (traced
  // now if it was not yet), as traced and as optimized, for printing and tests.
  struct CompiledGraph {
    std::string traced, optimized;
    // Inference (every module in evaluation, gradients off): the memory plan's arena, which holds
    // every buffer a call allocates on the calling thread, and those buffers' sizes summed (the
    // arena without reuse). 0 in training.
    std::size_t arena_bytes = 0, unplanned_bytes = 0;
    // Inference: the joins whose paths run side by side on this many threads, and each thread's
    // nodes (docs/graph.md, branch regions); empty when none.
    std::string branch_regions;
  };
  CompiledGraph compiled_graph(const Shape& input_shape);

  // ---- Printing ----
  // The module tree as PyTorch prints it: "Sequential(\n  (0): Conv2d(1, 6, kernel_size=(5, 5)...".
  std::string str() const;
  // The part inside the parentheses of a leaf's line, e.g. "in_features=400, out_features=120, bias=True".
  virtual std::string extra_repr() const { return ""; }

 protected:
  void add_child(const std::string& name, std::shared_ptr<Module> module);

 private:
  void collect(const std::string& prefix, NamedTensors& out, bool parameters, bool buffers) const;

  std::string type_name_;
  bool training_ = true;
  NamedTensors parameters_;
  NamedTensors buffers_;
  std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
  const Module* parent_ = nullptr;
  std::string name_in_parent_;
  struct Hybrid;  // the compiled graphs of a hybridized module (src/nn/hybridize.cpp)
  std::shared_ptr<Hybrid> hybrid_;
};

// Observes every module call on this thread while alive (nested modules report before their
// parent returns). Used by summaries; at most one at a time.
class ForwardObserver {
 public:
  using Callback = std::function<void(const Module& module, const Tensor& input, const Tensor& output)>;
  explicit ForwardObserver(Callback callback);
  ~ForwardObserver();
  // Whether an observer is active on this thread (Sequential then runs its layers one by one).
  static bool active();
  ForwardObserver(const ForwardObserver&) = delete;
  ForwardObserver& operator=(const ForwardObserver&) = delete;
};

// Raised by Module::operator() when a layer's computation fails: names the innermost layer
// (path and type) and the input shape it received, then the op's own message.
class LayerError : public Error {
 public:
  LayerError(std::string layer_path, std::string layer_type, Shape input_shape, const std::string& message);
  const std::string& layer_path() const { return path_; }
  const std::string& layer_type() const { return type_; }
  const Shape& input_shape() const { return input_shape_; }
  const std::string& op_message() const { return op_message_; }

 private:
  std::string path_, type_;
  Shape input_shape_;
  std::string op_message_;
};

}  // namespace strata::nn

namespace strata {

// Hybridizes `module` (Module::hybridize) and compiles it now for inputs of `input_shape` in its
// current modes, rather than on the first such call; returns it, to be called as before:
//   auto net = compile(models::build("resnet18"), {1, 1, 96, 96});
//   Tensor logits = (*net)(images);
std::shared_ptr<nn::Module> compile(std::shared_ptr<nn::Module> module, const Shape& input_shape);

}  // namespace strata

#pragma GCC visibility pop
