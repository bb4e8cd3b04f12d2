// eliminate_dead_code: nodes nothing reads and that change nothing else (see graph/passes.hpp).
#include "graph/passes.hpp"

namespace strata::graph {
namespace {

// Whether running the node changes state beyond its outputs: running statistics, a generator's
// draws, a buffer, or whatever a module run eagerly does.
bool has_effects(const Node& n) {
  switch (n.op) {
    case OpKind::BatchNorm:
      return n.get<BatchNormAttrs>().training;
    case OpKind::Dropout:
      return n.get<DropoutAttrs>().training;
    case OpKind::AddInPlace:
    case OpKind::Call:
      return true;
    default:
      return false;
  }
}

}  // namespace

int eliminate_dead_code(Graph& graph) {
  int removed = 0;
  for (bool changed = true; changed;) {
    changed = false;
    const std::vector<int> uses = graph.use_counts();
    for (std::size_t i = graph.nodes.size(); i-- > 0;) {
      const Node& n = graph.nodes[i];
      bool read = false;
      for (ValueId v : n.outputs) read = read || uses[v] > 0;
      if (read || has_effects(n)) continue;
      graph.nodes.erase(graph.nodes.begin() + static_cast<std::ptrdiff_t>(i));
      ++removed;
      changed = true;
    }
  }
  graph.compact();
  return removed;
}

}  // namespace strata::graph
