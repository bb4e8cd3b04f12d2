// remove_dropout: evaluation-mode dropout is the identity (see graph/passes.hpp).
#include "graph/passes.hpp"

namespace strata::graph {

int remove_dropout(Graph& graph) {
  int removed = 0;
  for (std::size_t i = 0; i < graph.nodes.size();) {
    const Node& n = graph.nodes[i];
    const bool identity = n.op == OpKind::Dropout && (!n.get<DropoutAttrs>().training || n.get<DropoutAttrs>().p == 0.0);
    if (!identity) {
      ++i;
      continue;
    }
    const ValueId in = n.inputs[0], out = n.output();
    graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
    replace_uses(graph, out, in);
    ++removed;
  }
  return removed;
}

}  // namespace strata::graph
