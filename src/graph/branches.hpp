// Independent branches of an inference program run side by side, one thread each (inter-op
// parallelism, onnxruntime's parallel executor): Inception's four paths, a SqueezeNet fire's two
// expansions. A convolution of a small map gains little from a second thread inside it (oneDNN's
// call costs more with two, and a sleeping thread takes longer to wake than the call takes), but
// two such convolutions on two threads take the time of one.
//
// A region is a join node (a concatenation or an addition) whose inputs are each made by a chain
// of nodes, each chain reading one shared input (the fork) and otherwise only the model's state,
// each node's output read only by the next node of its chain (or the join). The chains' nodes are
// the program's nodes between the region's first node and the join, apart from nodes that read only
// the state (folded weights), which run before the chains. Each thread runs whole chains, in the
// program's order, with one thread for each of the kernels inside them (OpenMP's nested regions
// are inactive); the chains go to threads by multiply-adds, largest first to the least loaded.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "graph/ir.hpp"

namespace strata::graph {

struct BranchRegion {
  std::size_t first = 0, join = 0;  // the region's nodes are [first, join); the join runs after them
  std::vector<std::size_t> state_nodes;  // nodes in [first, join) that read only the model's state
  // Per thread, its chains' nodes in the order they run (thread 0 is the calling thread).
  std::vector<std::vector<std::size_t>> threads;
};

// A region's cost, and each chain's, in multiply-adds: a convolution's or linear layer's own, a
// node's fixed cost (dispatch, the call into oneDNN) as kNodeCostMacs more, which matches
// GoogLeNet's Inception 3a at one thread (its four paths 0.035, 0.245, 0.045 and 0.033 ms).
inline constexpr int64_t kNodeCostMacs = int64_t{1} << 20;
// Regions larger than this (a batch of images) keep every thread inside each kernel, where the
// kernels scale and the branches' unequal sizes would leave threads idle.
inline constexpr int64_t kMaxBranchRegionMacs = int64_t{1} << 28;
// The branches must spread evenly enough: the region's cost at least this many times its most
// loaded thread's. Two threads inside each small convolution gain 1.1-1.3x; a SqueezeNet fire's
// two expansions (1x1 and 3x3, 1.2x at best side by side) run faster each on both threads.
inline constexpr double kMinBranchSpeedup = 1.35;

// The regions of `graph` worth `threads` threads (none below 2), in program order; nodes that
// keep state (running statistics, dropout's generator, in-place updates, eager calls) are never
// in one.
std::vector<BranchRegion> find_branch_regions(const Graph& graph, int threads);

// The regions as `strata summary --graph` prints them: per region its join, then each thread's
// nodes by scope ("side by side on 2 threads: 9 regions\n  2.0 (cat): 2.0.p2_1 2.0.p2_2 |
// 2.0.p1_1 ..."); empty when there are none.
std::string describe_branch_regions(const Graph& graph, const std::vector<BranchRegion>& regions);

}  // namespace strata::graph
