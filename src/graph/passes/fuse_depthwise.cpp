// fuse_depthwise: a 1x1 convolution and the depthwise 3x3 convolution reading its output, as one
// convolution with the depthwise one in its epilogue (see graph/passes.hpp).
#include "graph/passes.hpp"

namespace strata::graph {
namespace {

// Whether every spatial dimension of d is `value` (an empty d is `unset` in each).
bool all_are(const Dims& d, int64_t value, int64_t unset) {
  if (d.empty()) return value == unset;
  for (int i = 0; i < d.size(); ++i)
    if (d[i] != value) return false;
  return true;
}

// A 2-D ungrouped 1x1 convolution, stride 1, no padding, with at most an activation after it.
bool expansion(const Graph& g, const Node& n) {
  if (n.op != OpKind::Conv || n.outputs.size() != 1) return false;
  const ConvAttrs& a = n.get<ConvAttrs>();
  const Shape& w = g.values[n.inputs[1]].shape;
  return a.nd == 2 && a.options.groups == 1 && w[2] == 1 && w[3] == 1 && all_are(a.options.stride, 1, 1) &&
         all_are(a.options.padding, 0, 0) && all_are(a.options.dilation, 1, 1) && !n.epilogue.residual &&
         !n.epilogue.pool && !n.epilogue.depthwise;
}

// A depthwise 3x3 convolution of `channels` channels, padding 1, stride 1 or 2 (both dims), with at
// most an activation after it.
bool depthwise(const Graph& g, const Node& n, int64_t channels) {
  if (n.op != OpKind::Conv) return false;
  const ConvAttrs& a = n.get<ConvAttrs>();
  const Shape& w = g.values[n.inputs[1]].shape;
  const Dims& s = a.options.stride;
  const int64_t stride = s.empty() ? 1 : s[0];
  return a.nd == 2 && a.options.groups == channels && w == Shape({channels, 1, 3, 3}) && (stride == 1 || stride == 2) &&
         all_are(s, stride, 1) && all_are(a.options.padding, 1, 0) && all_are(a.options.dilation, 1, 1) &&
         !n.epilogue.residual && !n.epilogue.pool && !n.epilogue.depthwise;
}

}  // namespace

int fuse_depthwise(Graph& graph) {
  int fused = 0;
  for (std::size_t b = 0; b < graph.nodes.size(); ++b) {
    const std::vector<int> uses = graph.use_counts(), producer = graph.producers();
    const Node& dw = graph.nodes[b];
    if (dw.op != OpKind::Conv) continue;
    const ValueId between = dw.inputs[0];
    const int a = producer[between];
    if (a < 0 || uses[between] != 1 || !expansion(graph, graph.nodes[a]) ||
        !depthwise(graph, dw, graph.values[between].shape[1]))
      continue;
    const Dims& s = dw.get<ConvAttrs>().options.stride;
    Node conv = graph.nodes[a];
    conv.epilogue.depthwise = DepthwiseAttrs{s.empty() ? 1 : s[0], dw.epilogue.activation};
    conv.inputs.push_back(dw.inputs[1]);
    conv.inputs.push_back(dw.inputs.size() > 2 ? dw.inputs[2] : kNoValue);
    conv.outputs = dw.outputs;
    // The fused convolution runs where the depthwise one did, after whatever made its weights.
    graph.nodes[b] = std::move(conv);
    graph.nodes.erase(graph.nodes.begin() + a);
    --b;  // the node after the fused one is now at b
    ++fused;
  }
  return fused;
}

}  // namespace strata::graph
