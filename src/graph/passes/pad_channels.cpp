// pad_channels: convolution outputs whose channel count is not a multiple of 16, computed with
// zero channels added so that they stay in the blocked layout (see graph/passes.hpp).
#include "core/layout.hpp"
#include "graph/passes.hpp"

namespace strata::graph {
namespace {

int64_t rounded_up(int64_t channels) { return (channels + kChannelBlock - 1) / kChannelBlock * kChannelBlock; }

class ChannelPadder {
 public:
  explicit ChannelPadder(Graph& g)
      : g_(g),
        producer_(g.producers()),
        state_derived_(g.state_derived()),
        pad_out_(g.nodes.size(), 0),
        pad_in_(g.nodes.size(), 0) {
    readers_.resize(g.values.size());
    for (std::size_t i = 0; i < g.nodes.size(); ++i)
      for (std::size_t k = 0; k < g.nodes[i].inputs.size(); ++k)
        if (g.nodes[i].inputs[k] != kNoValue) readers_[g.nodes[i].inputs[k]].push_back({i, k});
  }

  // Pads every closed set of values it can; returns how many values it padded.
  int run() {
    std::vector<bool> seen(g_.values.size(), false);
    int padded = 0;
    for (std::size_t v = 0; v < g_.values.size(); ++v) {
      if (seen[v] || !padded_output_of(static_cast<ValueId>(v))) continue;
      std::vector<ValueId> set;
      const bool closed = collect(static_cast<ValueId>(v), seen, set);
      if (!closed) continue;
      for (ValueId member : set) {
        const int64_t channels = g_.values[member].shape[1], more = rounded_up(channels) - channels;
        g_.values[member].shape[1] += more;
        pad_out_[static_cast<std::size_t>(producer_[member])] = more;
        for (const auto& [reader, slot] : readers_[member])
          if (slot == 0) pad_in_[reader] = more;
        ++padded;
      }
    }
    if (padded > 0) insert_pads();
    return padded;
  }

 private:
  struct Use {
    std::size_t node, slot;
  };

  // The model's state, or what folds and pads of the state alone made (Graph::state_derived: the
  // program computes those once).
  bool from_state(ValueId v) const {
    if (v == kNoValue) return true;
    const ValueKind kind = g_.values[v].kind;
    if (is_leaf(kind)) return kind != ValueKind::Input;
    return state_derived_[static_cast<std::size_t>(producer_[v])];
  }

  // An ungrouped convolution over the state reading or writing values that may be padded.
  bool paddable_conv(std::size_t i) const {
    const Node& n = g_.nodes[i];
    return n.op == OpKind::Conv && n.get<ConvAttrs>().options.groups == 1 && from_state(n.inputs[1]) &&
           from_state(n.inputs[2]);
  }

  // Whether v is the output of such a convolution with a channel count worth padding: not a
  // multiple of 16, and at most half more channels than it has (24 -> 32, not 10 -> 16).
  bool padded_output_of(ValueId v) const {
    const int p = producer_[v];
    if (p < 0 || !paddable_conv(static_cast<std::size_t>(p)) || g_.nodes[p].outputs.size() != 1 ||
        g_.nodes[p].epilogue.depthwise)
      return false;
    const int64_t channels = g_.values[v].shape[1], more = rounded_up(channels) - channels;
    return more > 0 && 2 * more <= channels && v != g_.output;
  }

  // The set of values that must be padded together with v (a convolution's residual and its
  // output have one shape), into `set`; false if one of them has a reader that cannot read
  // padded channels. Readers that can: an ungrouped convolution reading it as its input (its
  // weights get zero input channels) or as its residual.
  bool collect(ValueId v, std::vector<bool>& seen, std::vector<ValueId>& set) const {
    std::vector<ValueId> work{v};
    seen[v] = true;
    bool closed = true;
    auto join = [&](ValueId w) {
      if (seen[w]) return;
      seen[w] = true;
      work.push_back(w);
    };
    while (!work.empty()) {
      const ValueId u = work.back();
      work.pop_back();
      set.push_back(u);
      if (!padded_output_of(u)) closed = false;
      const Node& producer = g_.nodes[static_cast<std::size_t>(producer_[u])];
      if (producer.op == OpKind::Conv && producer.epilogue.residual) join(producer.inputs.back());
      for (const auto& [reader, slot] : readers_[u]) {
        const Node& r = g_.nodes[reader];
        const bool as_residual = r.epilogue.residual && slot + 1 == r.inputs.size();
        if (!paddable_conv(reader) || (slot != 0 && !as_residual)) {
          closed = false;
        } else if (as_residual) {
          join(r.output());
        }
      }
    }
    return closed;
  }

  // A Pad node before each convolution whose channels changed: its weight (O, C, k...) gets
  // pad_out_ zero filters and pad_in_ zero input channels, its bias pad_out_ zeros.
  void insert_pads() {
    std::vector<Node> nodes;
    for (std::size_t i = 0; i < g_.nodes.size(); ++i) {
      Node& conv = g_.nodes[i];
      if (pad_out_[i] > 0 || pad_in_[i] > 0) {
        conv.inputs[1] = pad(conv, conv.inputs[1], {pad_out_[i], pad_in_[i]}, nodes);
        if (conv.inputs[2] != kNoValue && pad_out_[i] > 0)
          conv.inputs[2] = pad(conv, conv.inputs[2], {pad_out_[i]}, nodes);
      }
      nodes.push_back(std::move(conv));
    }
    g_.nodes = std::move(nodes);
  }

  // A Pad node (appended to `nodes`) of v by `ends` zeros at the end of its leading dimensions.
  ValueId pad(const Node& conv, ValueId v, const std::vector<int64_t>& ends, std::vector<Node>& nodes) {
    Value padded = g_.values[v];
    padded.kind = ValueKind::Computed;
    padded.name.clear();
    padded.tensor = Tensor();
    padded.layout = Layout::Strided;
    const std::size_t rank = padded.shape.ndim();
    PadAttrs attrs;
    attrs.pads.assign(2 * rank, 0);
    for (std::size_t d = 0; d < ends.size(); ++d) {
      attrs.pads[rank + d] = ends[d];
      padded.shape[d] += ends[d];
    }
    Node n;
    n.op = OpKind::Pad;
    n.attrs = attrs;
    n.inputs = {v};
    n.outputs = {g_.add(std::move(padded))};
    n.scope = conv.scope;
    n.layer = conv.layer;
    nodes.push_back(std::move(n));
    return nodes.back().output();
  }

  Graph& g_;
  std::vector<int> producer_;
  std::vector<bool> state_derived_;
  std::vector<std::vector<Use>> readers_;
  std::vector<int64_t> pad_out_, pad_in_;  // per node: zero channels its weight gets
};

}  // namespace

int pad_channels(Graph& graph) { return ChannelPadder(graph).run(); }

}  // namespace strata::graph
