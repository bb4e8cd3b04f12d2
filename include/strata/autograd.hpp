// Define-by-run reverse-mode autograd.
//
// Every differentiable op that runs while grad mode is on and sees an input that requires grad
// records a Node on its output: the op's backward function plus one edge per input (the input's
// own node, or the accumulator of a leaf). Tensor::backward() walks the graph from the output in
// dependency order, sums the gradients that meet at a node, and adds the result into each leaf's
// .grad(). The saved tensors of every node are freed afterwards unless retain_graph is set.
//
// Writing a differentiable op of your own (see examples/custom_block.cpp):
//   Tensor y = ...compute with NoGradGuard or raw loops...;
//   if (autograd::needs_grad({x, w}))
//     autograd::record("my_op", y, {x, w}, [x = x.detach(), w = w.detach()](
//         const Tensor& gy, const autograd::Node& node) -> std::vector<Tensor> {
//       return {node.needs_input_grad(0) ? ... : Tensor{}, node.needs_input_grad(1) ? ... : Tensor{}};
//     });
// Save inputs and outputs detached (x.detach()): a node that holds its own output would keep
// itself alive.
#pragma once
#pragma GCC visibility push(default)

#include <functional>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "strata/tensor.hpp"

namespace strata {

// Whether ops record autograd history on this thread (on by default).
class GradMode {
 public:
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// Turns recording off for its scope (inference, optimizer updates).
class NoGradGuard {
 public:
  NoGradGuard() : previous_(GradMode::is_enabled()) { GradMode::set_enabled(false); }
  ~NoGradGuard() { GradMode::set_enabled(previous_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool previous_;
};

namespace autograd {

class Node {
 public:
  explicit Node(std::string name) : name_(std::move(name)) {}
  // Destroys the chain of nodes only this one keeps alive without recursion, so that dropping the
  // output of a very deep graph cannot overflow the stack.
  virtual ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  const std::string& name() const { return name_; }
  // The gradients with respect to each input (one per entry of next(); an undefined tensor
  // where none flows), given the gradient of this node's output.
  virtual std::vector<Tensor> apply(const Tensor& grad_output) = 0;
  // Frees what the forward pass saved; apply() afterwards is an error.
  virtual void release() { released_ = true; }
  bool released() const { return released_; }

  // Node of each input, null where that input needs no gradient.
  const std::vector<std::shared_ptr<Node>>& next() const { return next_; }
  bool needs_input_grad(std::size_t i) const { return i < next_.size() && next_[i] != nullptr; }
  // Shapes of the inputs, to check what apply() returns.
  const std::vector<Shape>& input_shapes() const { return input_shapes_; }

  void add_input(std::shared_ptr<Node> node, const Shape& shape) {
    next_.push_back(std::move(node));
    input_shapes_.push_back(shape);
  }

 protected:
  bool released_ = false;

 private:
  std::string name_;
  std::vector<std::shared_ptr<Node>> next_;
  std::vector<Shape> input_shapes_;
};

using BackwardFn = std::function<std::vector<Tensor>(const Tensor& grad_output, const Node& node)>;

// True when grad mode is on and at least one of the inputs requires grad.
bool needs_grad(std::initializer_list<Tensor> inputs);
bool needs_grad(const std::vector<Tensor>& inputs);

// Makes `output` (a fresh op result) the output of a node running `backward`; `output` then
// requires grad. Inputs that are undefined or need no gradient get no edge.
void record(const std::string& name, const Tensor& output, std::initializer_list<Tensor> inputs,
            BackwardFn backward);
void record(const std::string& name, const Tensor& output, const std::vector<Tensor>& inputs,
            BackwardFn backward);

// Gradient-ready hooks: how data parallelism starts all-reducing a layer's gradients while the
// backward pass of the layers below it is still running (dist::DataParallel).
//
// `hook(leaf)` runs each time backward() has added the last gradient it computes for `leaf`
// into leaf.grad(): the engine sums every gradient that flows to a leaf before accumulating it,
// once per backward() call, so leaf.grad() is final for that backward when the hook runs. It runs
// on the thread running backward(), inside it, with grad mode off; what it throws ends the
// backward and propagates. A leaf no gradient reaches in a backward (unused by the loss) gets no
// call. The same holds for compiled (hybridized) modules, whose programs record the same leaves.
// `leaf` must be a leaf that requires grad. Returns an id for remove_grad_ready_hook.
using GradReadyHook = std::function<void(const Tensor& leaf)>;
uint64_t add_grad_ready_hook(const Tensor& leaf, GradReadyHook hook);
// Removes the hook `id` of `leaf`; an id it does not hold is ignored.
void remove_grad_ready_hook(const Tensor& leaf, uint64_t id);

// Tensor::backward() calls this.
void backward(const Tensor& root, const Tensor& grad, bool retain_graph);

}  // namespace autograd
}  // namespace strata

#pragma GCC visibility pop
