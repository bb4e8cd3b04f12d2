// A Program runs an optimized graph: every node one call into the ops (strata/ops.hpp) that eager
// code calls, so values, autograd and kernels are those of eager mode, with the graph's fusions.
//
// Nodes whose inputs are all parameters, buffers or constants (FoldBatchNorm) run once and again
// only when one of those tensors changes (a write bumps its storage's version); a folded weight
// is held once, by its convolution's kernel (refoldable_ below). A value's tensor is released
// after its last reader has run, so inference holds only what is still needed.
#pragma once

#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "graph/branches.hpp"
#include "graph/ir.hpp"
#include "graph/memory_plan.hpp"

namespace strata::graph {

class Program {
 public:
  // Prepares to run `graph` as it is (optimize it first: graph/passes.hpp).
  explicit Program(Graph graph);

  ~Program();
  Program(Program&& other) noexcept;
  Program& operator=(Program&&) = delete;
  Program(const Program&) = delete;

  // The graph's output for `input`, which must have the traced input's shape and dtype.
  Tensor run(const Tensor& input);

  // Plans the memory of later runs (graph/memory_plan.hpp), for inference: runs the program on
  // `example`, recording its allocations, places the buffers and makes the arena. Runs then take
  // their buffers from it; a run that leaves the plan (the first run also derived values it keeps,
  // such as folded weights, in its own buffers) makes the next one record a new plan. A run
  // inside another planned run (a compiled module inside a compiled model) allocates through the
  // outer plan.
  void plan_memory(const Tensor& example);
  const MemoryPlan* memory_plan() const { return plan_ ? &*plan_ : nullptr; }

  // The graph it runs; after the first run, each value with the layout its kernel gave it (Blocked16
  // where oneDNN keeps 16-channel blocks from layer to layer, Strided elsewhere).
  const Graph& graph() const { return graph_; }

  // The inputs of concatenations written in place (inference of one image, 16-channel blocks) that
  // the last run still copied, because their kernel did not write them where they go (0 when
  // every producer did).
  int concat_parts_copied() const { return parts_copied_; }

  // The bytes of folded weights (refoldable_ below) in memory now: 0 once each convolution's
  // kernel keeps its own copy of its weights.
  std::size_t folded_weight_bytes_held() const;

  // Profiling (strata bench --profile): while on, every run adds each node's time to a table
  // shared by all programs, keyed by the node's op and scope.
  static void set_profiling(bool on);
  // The table: one row per node, the most time first; total seconds and runs per node.
  struct ProfileRow {
    std::string op, scope;
    double seconds = 0;
    int64_t runs = 0;
  };
  static std::vector<ProfileRow> profile();

 private:
  // What a node that reads only the model's state produced, and from which versions of it.
  struct Cached {
    std::vector<uint64_t> sources;  // storage id, version and offset of each input
    std::vector<Tensor> outputs;
  };

  std::vector<Tensor> run_node(std::size_t index, const std::vector<Tensor>& inputs);

  Graph graph_;
  std::vector<int> last_reader_;             // per value: the last node reading it (-1: none)
  std::vector<int> producer_;                // per value: the node making it (-1: none)
  std::vector<bool> state_only_;             // per node: Graph::state_derived
  // Per node: a batch norm folded into the weights of the one convolution that reads them, at
  // inference. The folded weights give their bytes back once the convolution's kernel holds its
  // own copy of them (kernels/dnnl/weight_cache.hpp), and are folded again if read after that:
  // inference keeps two copies of those weights (the parameters and the kernel's), not three.
  std::vector<bool> refoldable_;
  std::vector<std::optional<Cached>> cache_;  // per node, for those that read only the state
  // Concatenations written in place, in inference of one image: a concatenation's inputs, each
  // read by it alone, are written by their producers straight into its buffer (16-channel blocks
  // of one image follow each other in memory), and it copies nothing. Per node: the concatenation
  // node its output is part of (-1: none) and the part's offset in elements.
  struct Placement {
    int cat = -1;
    int64_t offset = 0;
  };
  std::vector<Placement> placement_;
  std::vector<bool> cat_in_place_;  // per node: a concatenation with at least one placed input
  std::atomic<int> parts_copied_ = 0;  // in the last run (from several threads in branch regions)
  std::optional<MemoryPlan> plan_;
  ArenaAllocator* arena_ = nullptr;  // deletes itself once retired and empty
  bool record_next_run_ = false;
  bool layouts_seen_ = false;  // graph_'s values carry the layouts a run gave them
  // The branch regions (graph/branches.hpp) for a number of threads, found on first use.
  std::optional<std::pair<int, std::vector<BranchRegion>>> regions_;

  Tensor run_nodes(const Tensor& input);
  // Runs node i: its inputs from `slot`, its outputs into it, then lets go of the values it read
  // last. `region`: the branch region it runs in, on one of the region's threads, or null.
  void run_step(std::size_t i, std::vector<Tensor>& slot, const BranchRegion* region);
  void find_placements();
  // A placed concatenation's buffer (dense, Blocked16).
  Tensor empty_cat_buffer(const Node& cat) const;
  // Whether this run places outputs: inference (no gradients), not inside a trace.
  static bool placing();
  // Whether value v (an input of node i) goes once node i has run: a computed value, not the
  // output, that no later node reads.
  bool released_after(ValueId v, std::size_t i) const;
  // The regions this run uses: none in training (gradients on) or inside a parallel region.
  const std::vector<BranchRegion>& branch_regions();
  // The region's state-only nodes, then its chains on their threads.
  void run_region(const BranchRegion& r, std::vector<Tensor>& slot);
  Tensor run_recorded(const Tensor& input);
  Tensor run_in_arena(const Tensor& input);
  void make_arena();
};

}  // namespace strata::graph
