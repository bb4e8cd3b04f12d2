// Helpers of the graph tests: tracing a module, counting a graph's ops, running a graph.
#pragma once

#include <algorithm>

#include "common/test_util.hpp"
#include "core/layout.hpp"
#include "graph/passes.hpp"
#include "graph/program.hpp"
#include "graph/trace.hpp"

namespace strata::test {

// The graph of m's forward on an input of `shape` (random values).
inline graph::Graph trace_of(nn::Module& m, const Shape& shape) {
  NoGradGuard no_grad;
  return graph::trace([&m](const Tensor& x) { return m.call_as_layer(x, [&m](const Tensor& in) { return m.forward(in); }); },
                      random(shape, 1, DType::F32), m.named_parameters(), m.named_buffers(), m.type_name());
}

inline int count_ops(const graph::Graph& g, graph::OpKind op) {
  return static_cast<int>(std::count_if(g.nodes.begin(), g.nodes.end(), [op](const graph::Node& n) { return n.op == op; }));
}

// The node of kind `op` (the first), or a failure.
inline const graph::Node& node_of(const graph::Graph& g, graph::OpKind op) {
  for (const graph::Node& n : g.nodes)
    if (n.op == op) return n;
  ADD_FAILURE() << "no such node in\n" << g.str();
  return g.nodes.front();
}

// The graph's output for x, run as it is.
inline Tensor run_graph(const graph::Graph& g, const Tensor& x) {
  graph::Program p(g);
  return to_layout(p.run(x).detach(), Layout::Strided).contiguous();
}

}  // namespace strata::test
