// fuse_hard_swish: x * hardsigmoid(x) is hard-swish (see graph/passes.hpp).
#include <cmath>

#include "graph/passes.hpp"

namespace strata::graph {
namespace {

// PyTorch's Hardsigmoid (alpha 1/6, beta 1/2), the gate that makes x * gate(x) hard-swish.
bool is_hard_swish_gate(const Activation& a) {
  return a.kind == ActivationKind::HardSigmoid && std::abs(a.alpha - 1.0 / 6.0) < 1e-7 && a.beta == 0.5;
}

}  // namespace

int fuse_hard_swish(Graph& graph) {
  const std::vector<int> producer = graph.producers();
  const std::vector<int> uses = graph.use_counts();
  std::vector<bool> gone(graph.nodes.size(), false);
  int fused = 0;
  for (Node& mul : graph.nodes) {
    if (mul.op != OpKind::Binary || mul.get<BinaryAttrs>().kind != BinaryKind::Mul) continue;
    for (int side = 0; side < 2; ++side) {
      const ValueId gate = mul.inputs[side], x = mul.inputs[1 - side];
      const int g = producer[gate];
      if (g < 0 || gone[g] || uses[gate] != 1) continue;
      const Node& act = graph.nodes[g];
      if (act.op != OpKind::Activation || act.inputs[0] != x || !is_hard_swish_gate(act.get<ActivationAttrs>().kind))
        continue;
      mul.op = OpKind::Activation;
      mul.attrs = ActivationAttrs{Activation::HardSwish};
      mul.inputs = {x};
      gone[g] = true;
      ++fused;
      break;
    }
  }
  if (fused == 0) return 0;
  std::vector<Node> kept;
  kept.reserve(graph.nodes.size() - static_cast<std::size_t>(fused));
  for (std::size_t i = 0; i < graph.nodes.size(); ++i)
    if (!gone[i]) kept.push_back(std::move(graph.nodes[i]));
  graph.nodes = std::move(kept);
  return fused;
}

}  // namespace strata::graph
