// Tracing a forward pass into a Graph (torch.jit.trace, Gluon's hybridize): the forward runs once,
// for real, on an example input, and every op it calls records itself as a node.
//
// Ops record themselves (src/ops): each traceable op opens an OpTrace, and the outermost one of a
// call records its node, so the ops an op runs inside itself are not nodes. Modules mark their
// calls (src/nn, Module::operator()) with a ModuleScope, which names the nodes inside them.
//
// What the trace cannot replay it runs eagerly, one module at a time: where a module's forward
// uses a tensor that no recorded op made and that is not a parameter, buffer or tensor from
// before the trace (it was made by code the trace cannot see, such as a kernel of the user's own),
// or reads or writes a traced tensor's memory outside the ops (data-dependent control flow,
// in-place updates), that module's nodes become one Call node that runs the module as written.
// The graph is then right, only less optimized; Graph::str() shows such calls.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph/ir.hpp"

namespace strata::graph {

using NamedTensors = std::vector<std::pair<std::string, Tensor>>;

// Whether a trace is running on this thread.
bool tracing();

// Makes the innermost module call being traced run eagerly (one Call node), for a forward the
// graph must not replay: one that calls collectives over the ranks of a job, which every run must
// do for real, and tracing must not do (ranks trace at different times). `why` is the Call node's
// note. Outside a trace, or outside a module call, nothing happens.
void run_eagerly(const std::string& why);

// The extent of one traceable op (put one at the top of the op's function).
class OpTrace {
 public:
  OpTrace();
  ~OpTrace();
  OpTrace(const OpTrace&) = delete;
  OpTrace& operator=(const OpTrace&) = delete;

  // Whether this op is to be recorded: a trace is running and no traced op encloses this one.
  bool recording() const { return recording_; }
  // Records the op as a node. `inputs` in the op's order, undefined where an optional input is not
  // given; `output` the op's result.
  void record(OpKind op, Attrs attrs, const std::vector<Tensor>& inputs, const Tensor& output,
              const EpilogueAttrs& epilogue = {});
  // Records an in-place op on `target` (a node without output).
  void record_in_place(OpKind op, Attrs attrs, const Tensor& target);

 private:
  bool active_ = false, recording_ = false;
};

// A module call while tracing (no-op otherwise): `call` runs the module's forward eagerly, for a
// Call node. finish() with the module's output at the end of a call that returned normally.
class ModuleScope {
 public:
  ModuleScope(std::string path, std::string type, std::function<Tensor(const Tensor&)> call, const Tensor& input);
  ~ModuleScope();
  ModuleScope(const ModuleScope&) = delete;
  ModuleScope& operator=(const ModuleScope&) = delete;
  void finish(const Tensor& output);

 private:
  bool active_ = false, finished_ = false;
};

// Names the nodes recorded while it lives, in place of the module path (an imported model's
// nodes take their ONNX names: `strata bench --profile` and `summary --graph` then tell them
// apart). `type` is shown as the node's layer. No-op outside a trace.
class NodeLabel {
 public:
  NodeLabel(std::string name, std::string type);
  ~NodeLabel();
  NodeLabel(const NodeLabel&) = delete;
  NodeLabel& operator=(const NodeLabel&) = delete;

 private:
  bool active_ = false;
};

// Runs fn(input) and returns the graph of what it ran. `fn` is the root module's eager forward
// (also the Call node of a root the trace cannot see into); `parameters` and `buffers` name the
// module's state (state_dict keys), which the graph references. fn runs for real: its effects on
// buffers and random generators are the caller's to undo.
Graph trace(const std::function<Tensor(const Tensor&)>& fn, const Tensor& input, const NamedTensors& parameters,
            const NamedTensors& buffers, const std::string& root_type);

// `small`, a forward traced for a batch of b, made the graph of that forward for a batch of
// `batch`, when `twice`, the same forward traced for a batch of 2b, shows that the forward treats
// the first dimension as the batch throughout: the same nodes with the same attributes, and every
// computed value (and reshape) of the same shape but for a first dimension of b in one and 2b in
// the other, or of the same shape in both. nullopt otherwise (or when a module ran eagerly): then
// trace for `batch` itself. Tracing a small batch costs a fraction of a large one's time and
// memory.
std::optional<Graph> rebatch(const Graph& small, const Graph& twice, int64_t batch);

}  // namespace strata::graph
