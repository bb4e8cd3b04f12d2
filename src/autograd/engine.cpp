// The backward engine: graph recording (record), gradient accumulation into leaves, and the
// dependency-ordered walk of Tensor::backward().
#include <atomic>
#include <unordered_map>
#include <unordered_set>

#include "core/layout.hpp"
#include "core/tensor_impl.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {
thread_local bool grad_mode_enabled = true;
}  // namespace

bool GradMode::is_enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

namespace autograd {

Node::~Node() {
  // Move out every input node this one holds the last reference to, then empty those nodes' own
  // edges the same way before they die: each destructor then finds next_ empty and returns.
  std::vector<std::shared_ptr<Node>> orphans;
  auto take_orphans = [&orphans](std::vector<std::shared_ptr<Node>>& edges) {
    for (std::shared_ptr<Node>& edge : edges)
      if (edge && edge.use_count() == 1) orphans.push_back(std::move(edge));
    edges.clear();
  };
  take_orphans(next_);
  while (!orphans.empty()) {
    std::shared_ptr<Node> node = std::move(orphans.back());
    orphans.pop_back();
    take_orphans(node->next_);
  }
}

namespace {

// A node running a backward lambda recorded by an op.
class FunctionNode final : public Node {
 public:
  FunctionNode(const std::string& name, BackwardFn fn) : Node(name), fn_(std::move(fn)) {}
  std::vector<Tensor> apply(const Tensor& grad_output) override { return fn_(grad_output, *this); }
  void release() override {
    fn_ = nullptr;  // drops every tensor the forward pass captured
    Node::release();
  }

 private:
  BackwardFn fn_;
};

// Adds incoming gradients into a leaf's .grad(). Holds the leaf weakly: the leaf owns the graph's
// use of it, not the other way round.
class AccumulateGrad final : public Node {
 public:
  explicit AccumulateGrad(const std::shared_ptr<TensorImpl>& leaf) : Node("accumulate_grad"), leaf_(leaf) {}
  std::vector<Tensor> apply(const Tensor& grad) override {
    std::shared_ptr<TensorImpl> leaf = leaf_.lock();
    if (!leaf) return {};
    STRATA_CHECK(grad.dtype() == leaf->dtype, "backward: gradient of dtype ", dtype_name(grad.dtype()),
                 " for a leaf of dtype ", dtype_name(leaf->dtype));
    AutogradMeta& meta = leaf->meta();
    if (!meta.grad.defined()) {
      // Keep the incoming tensor only when nothing else can see it (an op may pass one gradient
      // to several inputs); otherwise copy, so accumulating later never writes into a shared buffer.
      const bool exclusive = grad.impl_ptr().use_count() == 1 && grad.storage().use_count() == 1 &&
                             grad.is_contiguous() && grad.offset() == 0;
      // Leaves hold Strided gradients, whatever layout the op that produced them used.
      meta.grad = exclusive ? grad.detach() : grad.layout() == Layout::Strided ? grad.clone() : to_layout(grad, Layout::Strided);
    } else {
      meta.grad.add_(grad);
    }
    if (!meta.grad_ready_hooks.empty()) {
      const Tensor handle(leaf);
      // A copy: a hook may add or remove hooks.
      const auto hooks = meta.grad_ready_hooks;
      for (const auto& [id, hook] : hooks) hook(handle);
    }
    return {};
  }
  void release() override {}  // saves nothing; stays usable by later graphs

 private:
  std::weak_ptr<TensorImpl> leaf_;
};

// The node a gradient for `input` flows to: its grad_fn, or its leaf accumulator.
std::shared_ptr<Node> edge_for(const Tensor& input) {
  if (!input.defined() || !input.requires_grad()) return nullptr;
  AutogradMeta& meta = input.impl()->meta();
  if (meta.grad_fn) return meta.grad_fn;
  std::shared_ptr<Node> acc = meta.grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(input.impl_ptr());
    meta.grad_accumulator = acc;
  }
  return acc;
}

// Number of gradients each node will receive from the nodes reachable from `root`.
std::unordered_map<Node*, int> count_dependencies(Node* root) {
  std::unordered_map<Node*, int> deps;
  std::unordered_set<Node*> seen{root};
  std::vector<Node*> stack{root};
  while (!stack.empty()) {
    Node* node = stack.back();
    stack.pop_back();
    for (const auto& next : node->next()) {
      if (!next) continue;
      ++deps[next.get()];
      if (seen.insert(next.get()).second) stack.push_back(next.get());
    }
  }
  return deps;
}

}  // namespace

bool needs_grad(std::initializer_list<Tensor> inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

bool needs_grad(const std::vector<Tensor>& inputs) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : inputs)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

void record(const std::string& name, const Tensor& output, const std::vector<Tensor>& inputs,
            BackwardFn backward) {
  STRATA_CHECK(output.defined(), name, ": autograd::record needs a defined output tensor");
  STRATA_CHECK(is_floating(output.dtype()), name, ": only floating-point outputs can have gradients, got ",
               dtype_name(output.dtype()));
  auto node = std::make_shared<FunctionNode>(name, std::move(backward));
  for (const Tensor& input : inputs) {
    STRATA_CHECK(!input.is_same(output), name, ": the output of autograd::record must be a new tensor, not one "
                 "of the inputs (return a view or copy of it)");
    node->add_input(edge_for(input), input.defined() ? input.shape() : Shape{});
  }
  AutogradMeta& meta = output.impl()->meta();
  STRATA_CHECK(!meta.grad_fn, name, ": internal error: output already has a grad_fn");
  meta.grad_fn = std::move(node);
  meta.requires_grad = true;
}

void record(const std::string& name, const Tensor& output, std::initializer_list<Tensor> inputs,
            BackwardFn backward) {
  record(name, output, std::vector<Tensor>(inputs), std::move(backward));
}

uint64_t add_grad_ready_hook(const Tensor& leaf, GradReadyHook hook) {
  STRATA_CHECK(leaf.defined() && leaf.requires_grad() && leaf.is_leaf(),
               "add_grad_ready_hook: the tensor must be a leaf that requires grad (a parameter)");
  STRATA_CHECK(hook != nullptr, "add_grad_ready_hook: the hook is empty");
  static std::atomic<uint64_t> next_id{1};
  const uint64_t id = next_id++;
  leaf.impl()->meta().grad_ready_hooks.emplace_back(id, std::move(hook));
  return id;
}

void remove_grad_ready_hook(const Tensor& leaf, uint64_t id) {
  if (!leaf.defined()) return;
  auto& hooks = leaf.impl()->meta().grad_ready_hooks;
  std::erase_if(hooks, [id](const auto& entry) { return entry.first == id; });
}

void backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
  STRATA_CHECK(root.defined(), "backward: called on an undefined tensor");
  STRATA_CHECK(root.requires_grad(), "backward: tensor of shape ", root.shape(),
               " does not require grad (no input of the computation has requires_grad set)");
  Tensor seed = grad;
  if (!seed.defined()) {
    STRATA_CHECK(root.numel() == 1, "backward: a gradient can be implied only for a one-element output; "
                 "this output has shape ", root.shape(), ", pass its gradient explicitly");
    seed = ones_like(root);
  }
  STRATA_CHECK(seed.shape() == root.shape(), "backward: gradient of shape ", seed.shape(),
               " does not match the output's shape ", root.shape());
  STRATA_CHECK(seed.dtype() == root.dtype() && seed.device() == root.device(), "backward: gradient is ",
               dtype_name(seed.dtype()), " on ", seed.device().str(), " but the output is ", dtype_name(root.dtype()),
               " on ", root.device().str());

  NoGradGuard no_grad;
  std::shared_ptr<Node> root_node = edge_for(root);
  std::unordered_map<Node*, int> deps = count_dependencies(root_node.get());
  std::unordered_map<Node*, Tensor> pending{{root_node.get(), seed.detach()}};
  std::vector<std::shared_ptr<Node>> ready{root_node};

  while (!ready.empty()) {
    std::shared_ptr<Node> node = std::move(ready.back());
    ready.pop_back();
    Tensor grad_output;
    if (auto it = pending.find(node.get()); it != pending.end()) {
      grad_output = std::move(it->second);
      pending.erase(it);
    }
    std::vector<Tensor> grads;
    if (grad_output.defined()) {
      STRATA_CHECK(!node->released(), "backward: the graph behind '", node->name(),
                   "' was freed by an earlier backward(); pass retain_graph=true to the first call "
                   "to run backward through it twice");
      grads = node->apply(grad_output);
    }
    if (!retain_graph) node->release();
    if (grad_output.defined()) {
      STRATA_CHECK(grads.empty() || grads.size() == node->next().size(), "backward: '", node->name(),
                   "' returned ", grads.size(), " gradients for ", node->next().size(), " inputs");
    }
    for (std::size_t i = 0; i < node->next().size(); ++i) {
      const std::shared_ptr<Node>& next = node->next()[i];
      if (!next) continue;
      if (i < grads.size() && grads[i].defined()) {
        const Tensor& g = grads[i];
        STRATA_CHECK(g.shape() == node->input_shapes()[i], "backward: '", node->name(),
                     "' returned a gradient of shape ", g.shape(), " for input ", i, " of shape ",
                     node->input_shapes()[i]);
        Tensor& slot = pending[next.get()];
        slot = slot.defined() ? slot + g : g;
      }
      if (--deps[next.get()] == 0) ready.push_back(next);
    }
  }
}

}  // namespace autograd
}  // namespace strata
