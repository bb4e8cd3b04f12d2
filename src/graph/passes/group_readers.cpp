// group_readers: the readers of a shared value run right after it (see graph/passes.hpp).
#include "graph/passes.hpp"

namespace strata::graph {

int group_readers(Graph& graph) {
  // An in-place update or an eager call may change what a later node reads: such graphs keep
  // their order.
  for (const Node& n : graph.nodes)
    if (n.op == OpKind::AddInPlace || n.op == OpKind::Call) return 0;
  const std::size_t count = graph.nodes.size();
  const std::vector<int> producer = graph.producers();
  // readers[v]: the nodes reading value v, in the graph's order.
  std::vector<std::vector<std::size_t>> readers(graph.values.size());
  for (std::size_t i = 0; i < count; ++i)
    for (ValueId v : graph.nodes[i].inputs)
      if (v != kNoValue && (readers[v].empty() || readers[v].back() != i)) readers[v].push_back(i);
  std::vector<bool> placed(count, false);
  auto ready = [&](std::size_t i) {
    for (ValueId v : graph.nodes[i].inputs)
      if (v != kNoValue && producer[v] >= 0 && !placed[static_cast<std::size_t>(producer[v])]) return false;
    return true;
  };
  // The graph's order, except that the readers of the graph's input and of each node's outputs,
  // where a value has several, come first and right after that node, when they need nothing else
  // not yet run.
  std::vector<std::size_t> order;
  order.reserve(count);
  auto place = [&](std::size_t i) {
    placed[i] = true;
    order.push_back(i);
  };
  auto place_readers = [&](ValueId v) {
    if (v == kNoValue || readers[v].size() < 2) return;
    for (std::size_t r : readers[v])
      if (!placed[r] && ready(r)) place(r);
  };
  place_readers(graph.input);
  for (std::size_t i = 0; i < count; ++i) {
    if (placed[i]) continue;
    place(i);
    for (ValueId v : graph.nodes[i].outputs) place_readers(v);
  }
  int moved = 0;
  std::vector<Node> nodes;
  nodes.reserve(count);
  for (std::size_t k = 0; k < count; ++k) {
    moved += order[k] != k;
    nodes.push_back(std::move(graph.nodes[order[k]]));
  }
  graph.nodes = std::move(nodes);
  return moved;
}

}  // namespace strata::graph
