// The tracer: one per tracing thread, found through a thread-local pointer by the ops' OpTrace,
// the modules' ModuleScope and the tensors' access observer (core/tensor_impl.hpp).
#include "graph/trace.hpp"

#include <map>
#include <tuple>
#include <unordered_map>

#include "core/tensor_impl.hpp"
#include "strata/storage.hpp"

namespace strata::graph {
namespace {

// A module call in progress: its nodes start at first_node, its computed values at first_value.
struct Scope {
  std::string path, type;
  std::function<Tensor(const Tensor&)> call;
  ValueId input = kNoValue;
  std::size_t first_node = 0, first_value = 0;
  std::string opaque;  // why the module must run eagerly; empty while it need not
};

// What the trace knows a tensor or storage as: held weakly, so that the forward pass frees its
// intermediate tensors as it runs (the peak memory of a trace is that of the forward); an entry
// whose object is gone refers to nothing, though a new object may have taken its address.
template <class Object, class Data>
struct Weak {
  std::weak_ptr<Object> object;
  Data data;
};

// Where a parameter or buffer lives, to recognise views of it (weight.detach()).
using ViewKey = std::tuple<const Storage*, int64_t, std::string, std::string>;
ViewKey view_key(const Tensor& t) { return {t.storage().get(), t.offset(), t.shape().str(), t.strides().str()}; }

class Tracer {
 public:
  Graph graph;
  int depth = 0;  // ops entered and not left
  std::vector<Scope> scopes;
  std::string label, label_type;  // NodeLabel's, while one lives

  Tracer(const NamedTensors& parameters, const NamedTensors& buffers) : ids_before_(Storage::ids_issued()) {
    for (const auto& [name, t] : parameters) add_state(ValueKind::Parameter, name, t);
    for (const auto& [name, t] : buffers) add_state(ValueKind::Buffer, name, t);
  }

  // The value of a tensor the trace knows (a computed value, the input, a parameter, buffer or
  // constant), or kNoValue.
  ValueId find(const Tensor& t) {
    if (!t.defined()) return kNoValue;
    if (auto it = by_impl_.find(t.impl()); it != by_impl_.end()) {
      if (it->second.object.lock() == t.impl_ptr()) return it->second.data;
      by_impl_.erase(it);  // another tensor had this address
    }
    if (auto it = state_by_view_.find(view_key(t)); it != state_by_view_.end()) {
      const auto& [kind, name] = it->second;
      return remember(t, graph.add({kind, t.shape(), t.dtype(), t.layout(), name, t}));
    }
    if (t.storage()->id() <= ids_before_)
      return remember(t, graph.add({ValueKind::Constant, t.shape(), t.dtype(), t.layout(), "", t}));
    return kNoValue;
  }

  // find(t), or where t was made by code the trace cannot see, a stand-in after marking the
  // innermost module to run eagerly.
  ValueId input_value(const Tensor& t) {
    if (!t.defined()) return kNoValue;
    const ValueId v = find(t);
    if (v != kNoValue) return v;
    mark_opaque("it uses a tensor that no traced op made (a kernel or op the trace cannot record)");
    return remember(t, graph.add({ValueKind::Constant, t.shape(), t.dtype(), t.layout(), "", t}));
  }

  ValueId add_output(const Tensor& t) {
    watch(t.storage());
    return remember(t, graph.add({ValueKind::Computed, t.shape(), t.dtype(), t.layout(), "", {}}));
  }

  Node node_in_scope(OpKind op, Attrs attrs) const {
    Node n;
    n.op = op;
    n.attrs = std::move(attrs);
    if (!label.empty()) {
      n.scope = label;
      n.layer = label_type;
    } else if (!scopes.empty()) {
      n.scope = scopes.back().path;
      n.layer = scopes.back().type;
    }
    return n;
  }

  void mark_opaque(const std::string& why) {
    if (!scopes.empty() && scopes.back().opaque.empty()) scopes.back().opaque = why;
  }

  void on_access(const Storage& storage, bool write) {
    if (depth > 0) return;
    auto it = watched_.find(&storage);
    if (it == watched_.end() || it->second.expired()) return;
    mark_opaque(write ? "it writes into a tensor outside the ops the trace records (an in-place update, or an op "
                        "it does not record)"
                      : "it reads a tensor's memory outside the ops the trace records (an op it does not record, or "
                        "control flow that depends on the values)");
  }

  void push(std::string path, std::string type, std::function<Tensor(const Tensor&)> call, ValueId input) {
    scopes.push_back({std::move(path), std::move(type), std::move(call), input, graph.nodes.size(),
                      graph.values.size(), {}});
  }

  // Ends the innermost module call, which returned `output`: when it must run eagerly, its nodes
  // become one Call node.
  void finish(const Tensor& output) {
    Scope s = std::move(scopes.back());
    scopes.pop_back();
    if (find(output) == kNoValue && s.opaque.empty()) s.opaque = "it returns a tensor that no traced op made";
    if (s.opaque.empty()) return;
    graph.nodes.resize(s.first_node);
    // The values computed inside are gone with their nodes: a later use of one is unknown.
    for (auto it = by_impl_.begin(); it != by_impl_.end();) {
      const ValueId v = it->second.data;
      const bool inner = v >= static_cast<ValueId>(s.first_value) && graph.values[v].kind == ValueKind::Computed;
      it = inner ? by_impl_.erase(it) : std::next(it);
    }
    if (s.input == kNoValue) mark_opaque("it passes a tensor that no traced op made to " + s.path);
    Node call = node_in_scope(OpKind::Call, CallAttrs{std::move(s.call)});
    call.scope = s.path;
    call.layer = s.type;
    call.note = s.opaque;
    call.inputs = {s.input};
    call.outputs = {add_output(output)};
    graph.nodes.push_back(std::move(call));
  }

 private:
  void add_state(ValueKind kind, const std::string& name, const Tensor& t) {
    if (!t.defined()) return;
    state_by_view_.emplace(view_key(t), std::pair{kind, name});
    watch(t.storage());
  }

  void watch(const std::shared_ptr<Storage>& storage) { watched_[storage.get()] = storage; }

  ValueId remember(const Tensor& t, ValueId v) {
    by_impl_[t.impl()] = {t.impl_ptr(), v};
    return v;
  }

  uint64_t ids_before_;  // storages made before the trace have ids up to this
  std::map<ViewKey, std::pair<ValueKind, std::string>> state_by_view_;
  std::unordered_map<const TensorImpl*, Weak<TensorImpl, ValueId>> by_impl_;
  // The storages of the state and of computed values, whose memory code outside ops must not touch.
  std::unordered_map<const Storage*, std::weak_ptr<Storage>> watched_;
};

thread_local Tracer* current = nullptr;

void observe(const Storage& storage, bool write) {
  if (current != nullptr) current->on_access(storage, write);
}

// Installs a tracer on this thread for its scope.
class Installed {
 public:
  explicit Installed(Tracer& t) {
    STRATA_CHECK(current == nullptr, "trace: a trace is already running on this thread");
    current = &t;
    set_access_observer(observe);
  }
  ~Installed() {
    set_access_observer(nullptr);
    current = nullptr;
  }
  Installed(const Installed&) = delete;
  Installed& operator=(const Installed&) = delete;
};

}  // namespace

bool tracing() { return current != nullptr; }

void run_eagerly(const std::string& why) {
  if (current != nullptr) current->mark_opaque(why);
}

OpTrace::OpTrace() : active_(current != nullptr) {
  if (!active_) return;
  recording_ = current->depth == 0;
  ++current->depth;
}

OpTrace::~OpTrace() {
  if (active_) --current->depth;
}

void OpTrace::record(OpKind op, Attrs attrs, const std::vector<Tensor>& inputs, const Tensor& output,
                     const EpilogueAttrs& epilogue) {
  if (!recording_) return;
  Tracer& t = *current;
  Node n = t.node_in_scope(op, std::move(attrs));
  for (const Tensor& in : inputs) n.inputs.push_back(t.input_value(in));
  n.epilogue = epilogue;
  n.outputs = {t.add_output(output)};
  t.graph.nodes.push_back(std::move(n));
}

void OpTrace::record_in_place(OpKind op, Attrs attrs, const Tensor& target) {
  if (!recording_) return;
  Tracer& t = *current;
  Node n = t.node_in_scope(op, std::move(attrs));
  n.inputs = {t.input_value(target)};
  t.graph.nodes.push_back(std::move(n));
}

NodeLabel::NodeLabel(std::string name, std::string type) : active_(current != nullptr) {
  if (!active_) return;
  current->label = std::move(name);
  current->label_type = std::move(type);
}

NodeLabel::~NodeLabel() {
  if (!active_) return;
  current->label.clear();
  current->label_type.clear();
}

ModuleScope::ModuleScope(std::string path, std::string type, std::function<Tensor(const Tensor&)> call,
                         const Tensor& input)
    : active_(current != nullptr) {
  if (active_) current->push(std::move(path), std::move(type), std::move(call), current->find(input));
}

ModuleScope::~ModuleScope() {
  if (active_ && !finished_) current->scopes.pop_back();
}

void ModuleScope::finish(const Tensor& output) {
  if (!active_) return;
  finished_ = true;
  current->finish(output);
}

Graph trace(const std::function<Tensor(const Tensor&)>& fn, const Tensor& input, const NamedTensors& parameters,
            const NamedTensors& buffers, const std::string& root_type) {
  Tracer t(parameters, buffers);
  Installed installed(t);
  t.graph.input = t.add_output(input);
  t.graph.values[t.graph.input].kind = ValueKind::Input;
  t.push("", root_type, fn, t.graph.input);
  const Tensor output = fn(input);
  t.finish(output);
  t.graph.output = t.find(output);
  t.graph.compact();
  return std::move(t.graph);
}

}  // namespace strata::graph
