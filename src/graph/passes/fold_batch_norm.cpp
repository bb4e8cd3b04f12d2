// fold_batch_norm: an evaluation-mode batch norm folded into the convolution before it (see
// graph/passes.hpp and fold_batch_norm in strata/ops.hpp for the arithmetic).
#include "graph/passes.hpp"

namespace strata::graph {
namespace {

// Whether every given input of the node is a parameter, buffer or constant: folded weights are
// then a function of the model's state alone.
bool leaf_inputs(const Graph& graph, const std::vector<ValueId>& inputs) {
  for (ValueId v : inputs)
    if (v != kNoValue && !is_leaf(graph.values[v].kind)) return false;
  return true;
}

}  // namespace

int fold_batch_norm(Graph& graph) {
  int folded = 0;
  for (std::size_t b = 0; b < graph.nodes.size(); ++b) {
    const std::vector<int> uses = graph.use_counts(), producer = graph.producers();
    Node& bn = graph.nodes[b];
    if (bn.op != OpKind::BatchNorm || bn.get<BatchNormAttrs>().training || bn.epilogue.residual) continue;
    const ValueId conv_out = bn.inputs[0];
    if (producer[conv_out] < 0 || uses[conv_out] != 1) continue;
    const std::size_t c = static_cast<std::size_t>(producer[conv_out]);
    const Node& conv = graph.nodes[c];
    if (conv.op != OpKind::Conv || !conv.epilogue.empty() || !conv.folded.empty()) continue;
    // bn's inputs: x, weight, bias, running_mean, running_var (the statistics always given in eval).
    const std::vector<ValueId> bn_params(bn.inputs.begin() + 1, bn.inputs.end());
    if (!leaf_inputs(graph, {conv.inputs[1], conv.inputs[2]}) || !leaf_inputs(graph, bn_params)) continue;

    // Copies: graph.add may move the values.
    const Shape w_shape = graph.values[conv.inputs[1]].shape;
    const DType w_dtype = graph.values[conv.inputs[1]].dtype;
    Node fold;
    fold.op = OpKind::FoldBatchNorm;
    fold.attrs = FoldAttrs{bn.get<BatchNormAttrs>().eps};
    fold.inputs = {conv.inputs[1], conv.inputs[2], bn_params[0], bn_params[1], bn_params[2], bn_params[3]};
    fold.outputs = {graph.add({ValueKind::Computed, w_shape, w_dtype, Layout::Strided, "", {}}),
                    graph.add({ValueKind::Computed, Shape{w_shape[0]}, w_dtype, Layout::Strided, "", {}})};
    fold.scope = bn.scope;
    fold.layer = bn.layer;

    Node fused = conv;
    fused.inputs = {conv.inputs[0], fold.outputs[0], fold.outputs[1]};
    fused.outputs = bn.outputs;
    fused.epilogue = bn.epilogue;
    fused.folded = bn.scope.empty() ? "<root>" : bn.scope;
    // The convolution takes the batch norm's place; the fold runs right before it.
    graph.nodes[b] = std::move(fused);
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(c));
    graph.nodes.insert(graph.nodes.begin() + static_cast<std::ptrdiff_t>(b - 1), std::move(fold));
    ++folded;
  }
  return folded;
}

}  // namespace strata::graph
