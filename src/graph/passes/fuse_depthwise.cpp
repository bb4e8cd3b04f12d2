// fuse_depthwise: a 1x1 convolution and the depthwise 3x3 convolution reading its output, as one
// convolution with the depthwise one in its epilogue (see graph/passes.hpp).
#include "graph/passes.hpp"
#include "ops/conv.hpp"

namespace strata::graph {
namespace {

// A 2-D convolution node's geometry (strides, paddings and dilations spelled out per dimension).
ConvGeom geometry_of(const Graph& g, const Node& n) {
  const ConvAttrs& a = n.get<ConvAttrs>();
  return ConvGeom::make("conv2d", 2, g.values[n.inputs[0]].shape, g.values[n.inputs[1]].shape, nullptr, a.options);
}

// Whether both spatial dimensions of s are `value`.
bool both(const Spatial& s, int64_t value) { return s[1] == value && s[2] == value; }

// A 2-D ungrouped 1x1 convolution, stride 1, no padding, with at most an activation after it.
bool expansion(const Graph& g, const Node& n) {
  if (n.op != OpKind::Conv || n.outputs.size() != 1 || n.get<ConvAttrs>().nd != 2) return false;
  const ConvGeom c = geometry_of(g, n);
  return c.groups == 1 && both(c.kernel, 1) && both(c.stride, 1) && both(c.padding, 0) && both(c.dilation, 1) &&
         !n.epilogue.residual && !n.epilogue.pool && !n.epilogue.depthwise;
}

// A depthwise 3x3 convolution of `channels` channels, padding 1, stride 1 or 2 (both dims), with at
// most an activation after it.
bool depthwise(const Graph& g, const Node& n, int64_t channels) {
  if (n.op != OpKind::Conv || n.get<ConvAttrs>().nd != 2) return false;
  const ConvGeom c = geometry_of(g, n);
  return c.groups == channels && c.out_channels == channels && both(c.kernel, 3) &&
         (both(c.stride, 1) || both(c.stride, 2)) && both(c.padding, 1) && both(c.dilation, 1) &&
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
    Node conv = graph.nodes[a];
    conv.epilogue.depthwise = DepthwiseAttrs{geometry_of(graph, dw).stride[1], dw.epilogue.activation};
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
