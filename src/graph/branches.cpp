// Finding the regions of independent branches (see graph/branches.hpp).
#include "graph/branches.hpp"

#include <algorithm>
#include <numeric>
#include <optional>
#include <sstream>

namespace strata::graph {
namespace {

// A node that keeps or changes state: never in a region (its effects must keep their order).
bool keeps_state(const Node& n) {
  switch (n.op) {
    case OpKind::Call:
    case OpKind::AddInPlace:
      return true;
    case OpKind::Dropout:
      return n.get<DropoutAttrs>().training;
    case OpKind::BatchNorm:
      return n.get<BatchNormAttrs>().training;
    default:
      return false;
  }
}

class Finder {
 public:
  explicit Finder(const Graph& g) : g_(g), producer_(g.producers()), readers_(g.use_counts()) {
    state_node_.assign(g.nodes.size(), false);
    for (std::size_t i = 0; i < g.nodes.size(); ++i) {
      bool state = !g.nodes[i].inputs.empty();
      for (ValueId v : g.nodes[i].inputs) state = state && (v == kNoValue || is_state(v));
      state_node_[i] = state;
    }
  }

  // The region joined at node j, if there is one.
  std::optional<BranchRegion> region_at(std::size_t j, int threads) const {
    std::vector<std::vector<std::size_t>> chains;
    std::optional<ValueId> fork;
    for (ValueId u : g_.nodes[j].inputs) {
      if (u == kNoValue || is_state(u)) continue;
      std::vector<std::size_t> chain;
      ValueId v = u;
      // Back from u while each value is read once, by the node after it in the chain.
      while (readers_[v] == 1 && producer_[v] >= 0) {
        const std::size_t p = static_cast<std::size_t>(producer_[v]);
        const std::optional<ValueId> in = chain_input(p);
        if (!in) return std::nullopt;
        chain.push_back(p);
        v = *in;
      }
      if (fork && *fork != v) return std::nullopt;
      fork = v;
      if (!chain.empty()) {
        std::reverse(chain.begin(), chain.end());
        chains.push_back(std::move(chain));
      }
    }
    if (chains.size() < 2) return std::nullopt;
    // The nodes between the region's first and the join: its chains' and state-only ones only.
    BranchRegion r;
    r.join = j;
    r.first = j;
    std::vector<bool> in_chain(j, false);
    for (const auto& c : chains)
      for (std::size_t n : c) {
        in_chain[n] = true;
        r.first = std::min(r.first, n);
      }
    for (std::size_t n = r.first; n < j; ++n) {
      if (in_chain[n]) continue;
      if (!state_node_[n] || keeps_state(g_.nodes[n])) return std::nullopt;
      r.state_nodes.push_back(n);
    }
    // Chains to threads: largest first, each to the least loaded thread.
    std::vector<int64_t> cost(chains.size(), 0);
    int64_t total = 0;
    for (std::size_t c = 0; c < chains.size(); ++c) {
      for (std::size_t n : chains[c]) cost[c] += node_cost(n);
      total += cost[c];
    }
    if (total > kMaxBranchRegionMacs) return std::nullopt;
    std::vector<std::size_t> order(chains.size());
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return cost[a] > cost[b]; });
    const std::size_t used = std::min<std::size_t>(static_cast<std::size_t>(threads), chains.size());
    r.threads.assign(used, {});
    std::vector<int64_t> load(used, 0);
    for (std::size_t c : order) {
      const std::size_t t = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
      load[t] += cost[c];
      r.threads[t].insert(r.threads[t].end(), chains[c].begin(), chains[c].end());
    }
    if (static_cast<double>(total) < kMinBranchSpeedup * static_cast<double>(*std::max_element(load.begin(), load.end())))
      return std::nullopt;
    for (auto& nodes : r.threads) std::sort(nodes.begin(), nodes.end());
    return r;
  }

 private:
  // A parameter, buffer or constant, or what a node of those alone made (folded weights).
  bool is_state(ValueId v) const {
    const Value& value = g_.values[v];
    if (value.kind == ValueKind::Input) return false;
    if (is_leaf(value.kind)) return true;
    return producer_[v] >= 0 && state_node_[static_cast<std::size_t>(producer_[v])];
  }

  // The one computed input of node p, if p can be a link of a chain: one output, no state kept,
  // every other input state.
  std::optional<ValueId> chain_input(std::size_t p) const {
    const Node& n = g_.nodes[p];
    if (n.outputs.size() != 1 || keeps_state(n) || state_node_[p]) return std::nullopt;
    std::optional<ValueId> in;
    for (ValueId v : n.inputs) {
      if (v == kNoValue || is_state(v)) continue;
      if (in) return std::nullopt;
      in = v;
    }
    return in;
  }

  // kNodeCostMacs, plus the multiply-adds of a convolution or linear node, else its output's size
  // (a pooling's or activation's reads and writes, small against a convolution's products).
  int64_t node_cost(std::size_t i) const {
    const Node& n = g_.nodes[i];
    const int64_t macs = g_.multiply_accumulates(n);
    return kNodeCostMacs + (macs > 0 ? macs : g_.values[n.output()].shape.numel());
  }

  const Graph& g_;
  std::vector<int> producer_;
  std::vector<int> readers_;  // per value: how many node inputs (and the graph's output) read it
  std::vector<bool> state_node_;
};

}  // namespace

std::vector<BranchRegion> find_branch_regions(const Graph& graph, int threads) {
  std::vector<BranchRegion> regions;
  if (threads < 2) return regions;
  const Finder finder(graph);
  std::size_t next_free = 0;  // regions do not overlap
  for (std::size_t j = 0; j < graph.nodes.size(); ++j) {
    std::optional<BranchRegion> r = finder.region_at(j, threads);
    if (!r || r->first < next_free) continue;
    next_free = j + 1;
    regions.push_back(std::move(*r));
  }
  return regions;
}

std::string describe_branch_regions(const Graph& graph, const std::vector<BranchRegion>& regions) {
  if (regions.empty()) return "";
  const auto name = [&](std::size_t i) {
    const Node& n = graph.nodes[i];
    return n.scope.empty() ? graph.op_name(n) : n.scope;
  };
  std::ostringstream s;
  s << "side by side on " << regions.front().threads.size() << " threads: " << regions.size()
    << (regions.size() == 1 ? " region" : " regions");
  for (const BranchRegion& r : regions) {
    s << "\n  " << name(r.join) << " (" << graph.op_name(graph.nodes[r.join]) << "):";
    for (std::size_t t = 0; t < r.threads.size(); ++t) {
      if (t > 0) s << " |";
      for (std::size_t i : r.threads[t]) s << " " << name(i);
    }
  }
  return s.str();
}

}  // namespace strata::graph
