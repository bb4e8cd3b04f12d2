// Graph bookkeeping and printing.
#include "graph/ir.hpp"

#include <sstream>

#include "ops/activation.hpp"
#include "ops/conv.hpp"
#include "ops/pad.hpp"

namespace strata::graph {
namespace {

const char* pool_name(int nd, PoolMode mode) {
  if (mode == PoolMode::Max) return nd == 2 ? "max_pool2d" : "max_pool3d";
  return nd == 2 ? "avg_pool2d" : "avg_pool3d";
}

// The op alone, without its epilogue.
std::string base_name(const Node& n) {
  switch (n.op) {
    case OpKind::Conv:
      return n.get<ConvAttrs>().nd == 2 ? "conv2d" : "conv3d";
    case OpKind::BatchNorm:
      return "batch_norm";
    case OpKind::Activation:
      return activation_name(n.get<ActivationAttrs>().kind);
    case OpKind::Add:
      return "add";
    case OpKind::Binary: {
      static const char* kNames[] = {"sub", "mul", "div"};
      return kNames[static_cast<int>(n.get<BinaryAttrs>().kind)];
    }
    case OpKind::Scalar: {
      static const char* kNames[] = {"add_scalar", "mul_scalar", "rsub_scalar", "rdiv_scalar"};
      return kNames[static_cast<int>(n.get<ScalarAttrs>().kind)];
    }
    case OpKind::Pool: {
      const PoolAttrs& a = n.get<PoolAttrs>();
      return pool_name(a.nd, a.pooling.mode);
    }
    case OpKind::AdaptiveAvgPool:
      return n.get<AdaptivePoolAttrs>().nd == 2 ? "adaptive_avg_pool2d" : "adaptive_avg_pool3d";
    case OpKind::Linear:
      return "linear";
    case OpKind::Cat:
      return "cat";
    case OpKind::Reshape:
      return "reshape";
    case OpKind::Permute:
      return "permute";
    case OpKind::Slice:
      return "slice";
    case OpKind::Pad:
      return std::string("pad_") + pad_mode_name(n.get<PadAttrs>().mode);
    case OpKind::Mean:
      return "mean";
    case OpKind::Dropout:
      return n.get<DropoutAttrs>().training ? "dropout" : "dropout(eval)";
    case OpKind::Softmax:
      return n.get<SoftmaxAttrs>().log ? "log_softmax" : "softmax";
    case OpKind::FoldBatchNorm:
      return "fold_batch_norm";
    case OpKind::AddInPlace:
      return "add_";
    case OpKind::Call:
      return "call";
  }
  return "?";
}

std::string value_ref(const Graph& g, ValueId id) {
  if (id == kNoValue) return "_";
  const Value& v = g.values[id];
  if (v.kind == ValueKind::Parameter || v.kind == ValueKind::Buffer) return v.name;
  std::string ref = v.kind == ValueKind::Constant ? "const%" : "%";
  ref += std::to_string(id);
  return ref;
}

}  // namespace

ValueId Graph::add(Value value) {
  values.push_back(std::move(value));
  return static_cast<ValueId>(values.size() - 1);
}

std::vector<int> Graph::use_counts() const {
  std::vector<int> uses(values.size(), 0);
  for (const Node& n : nodes)
    for (ValueId v : n.inputs)
      if (v != kNoValue) ++uses[v];
  if (output != kNoValue) ++uses[output];
  return uses;
}

std::vector<int> Graph::producers() const {
  std::vector<int> at(values.size(), -1);
  for (std::size_t i = 0; i < nodes.size(); ++i)
    for (ValueId v : nodes[i].outputs) at[v] = static_cast<int>(i);
  return at;
}

int64_t Graph::multiply_accumulates() const {
  int64_t macs = 0;
  for (const Node& n : nodes) macs += multiply_accumulates(n);
  return macs;
}

int64_t Graph::multiply_accumulates(const Node& n) const {
  if (n.op != OpKind::Conv && n.op != OpKind::Linear) return 0;
  const Shape& w = values[n.inputs[1]].shape;  // conv (O, I/groups, k...), linear (O, I)
  if (!n.epilogue.depthwise) return values[n.output()].shape.numel() * (w.numel() / w[0]);
  // The convolution's own output is the depthwise convolution's input: 9 products per output.
  const ConvAttrs& a = n.get<ConvAttrs>();
  const Shape& x = values[n.inputs[0]].shape;
  const ConvGeom g = ConvGeom::make("conv2d", a.nd, x, w, nullptr, a.options);
  return g.y_shape().numel() * (w.numel() / w[0]) + values[n.output()].shape.numel() * 9;
}

std::vector<bool> Graph::state_derived() const {
  const std::vector<int> producer = producers();
  std::vector<bool> derived(nodes.size(), false);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const Node& n = nodes[i];
    bool state = n.op == OpKind::FoldBatchNorm || n.op == OpKind::Pad;
    for (ValueId v : n.inputs) {
      if (v == kNoValue) continue;
      const ValueKind kind = values[v].kind;
      state = state && (is_leaf(kind) ? kind != ValueKind::Input
                                      : producer[v] >= 0 && derived[static_cast<std::size_t>(producer[v])]);
    }
    derived[i] = state;
  }
  return derived;
}

void Graph::compact() {
  std::vector<bool> used(values.size(), false);
  for (const Node& n : nodes) {
    for (ValueId v : n.inputs)
      if (v != kNoValue) used[v] = true;
    for (ValueId v : n.outputs) used[v] = true;
  }
  if (input != kNoValue) used[input] = true;
  if (output != kNoValue) used[output] = true;
  std::vector<ValueId> renumbered(values.size(), kNoValue);
  std::vector<Value> kept;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (!used[i]) continue;
    renumbered[i] = static_cast<ValueId>(kept.size());
    kept.push_back(std::move(values[i]));
  }
  values = std::move(kept);
  auto map = [&](ValueId& v) {
    if (v != kNoValue) v = renumbered[v];
  };
  for (Node& n : nodes) {
    for (ValueId& v : n.inputs) map(v);
    for (ValueId& v : n.outputs) map(v);
  }
  map(input);
  map(output);
}

std::string Graph::op_name(const Node& n) const {
  std::string name = base_name(n);
  if (!n.folded.empty()) name += "+bn";
  if (n.epilogue.residual) name += "+add";
  if (n.epilogue.activation) name = name + "+" + activation_name(*n.epilogue.activation);
  if (n.epilogue.pool) {
    const int nd = n.op == OpKind::Conv ? n.get<ConvAttrs>().nd : values[n.inputs[0]].shape.ndim() - 2;
    name = name + "+" + pool_name(nd, n.epilogue.pool->mode);
  }
  if (n.epilogue.depthwise) {
    name += n.epilogue.depthwise->stride == 1 ? "+dwconv3x3" : "+dwconv3x3s2";
    if (n.epilogue.depthwise->activation) name = name + "+" + activation_name(*n.epilogue.depthwise->activation);
  }
  return name;
}

std::string Graph::str() const {
  std::ostringstream s;
  s << "graph(" << value_ref(*this, input) << ": " << values[input].shape << ") {\n";
  for (const Node& n : nodes) {
    s << "  ";
    for (std::size_t i = 0; i < n.outputs.size(); ++i) s << (i ? ", " : "") << value_ref(*this, n.outputs[i]);
    if (!n.outputs.empty()) s << " = ";
    s << op_name(n) << "(";
    for (std::size_t i = 0; i < n.inputs.size(); ++i) s << (i ? ", " : "") << value_ref(*this, n.inputs[i]);
    s << ")";
    if (n.output() != kNoValue) {
      const Value& out = values[n.output()];
      s << " " << out.shape << (out.layout == Layout::Blocked16 ? " blocked" : "");
    }
    if (!n.scope.empty() || !n.layer.empty()) s << "  # " << (n.scope.empty() ? "<root>" : n.scope) << " (" << n.layer << ")";
    if (!n.folded.empty()) s << ", folded " << n.folded;
    if (!n.note.empty()) s << ", run eagerly: " << n.note;
    s << "\n";
  }
  s << "  return " << value_ref(*this, output) << "\n}";
  return s.str();
}

}  // namespace strata::graph
