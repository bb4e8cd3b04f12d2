// Program: the node-by-node interpreter of an optimized graph.
#include "graph/program.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <exception>
#include <map>
#include <mutex>
#include <utility>

#include "core/layout.hpp"
#include "core/page_allocator.hpp"
#include "core/tensor_impl.hpp"
#include "graph/trace.hpp"
#include "ops/epilogue.hpp"
#include "ops/shape.hpp"
#include "strata/autograd.hpp"
#include "strata/backend.hpp"
#include "strata/storage.hpp"

namespace strata::graph {
namespace {

bool profiling = false;
std::mutex& profile_mutex() {
  static std::mutex m;
  return m;
}
// (op, scope) -> row; filled by the runs of every program while profiling.
std::map<std::pair<std::string, std::string>, Program::ProfileRow>& profile_table() {
  static std::map<std::pair<std::string, std::string>, Program::ProfileRow> table;
  return table;
}

Epilogue epilogue_of(const Node& n, const std::vector<Tensor>& in) {
  Epilogue e;
  if (n.epilogue.residual) e.residual = in.back();
  e.activation = n.epilogue.activation;
  e.pool = n.epilogue.pool;
  if (n.epilogue.depthwise) {
    const std::size_t at = in.size() - n.epilogue.input_count();  // its weight, then its bias
    e.depthwise = DepthwiseConv{in[at], in[at + 1], n.epilogue.depthwise->stride, n.epilogue.depthwise->activation};
  }
  return e;
}

// Storage id, version and offset of each input: what a cached result was computed from.
std::vector<uint64_t> sources_of(const std::vector<Tensor>& in) {
  std::vector<uint64_t> s;
  for (const Tensor& t : in) {
    if (!t.defined()) {
      s.insert(s.end(), {0, 0, 0});
      continue;
    }
    s.insert(s.end(), {t.storage()->id(), t.storage()->version(), static_cast<uint64_t>(t.offset())});
  }
  return s;
}

// Lets a folded weight's storage give its bytes back (the weight cache does, once the convolution's
// kernel holds its own copy) and fold them again from `state` (the fold node's inputs, unchanged
// since: `sources`) if read after that.
void make_refoldable(const Tensor& weight, const std::vector<Tensor>& state, double eps,
                     std::vector<uint64_t> sources) {
  const std::size_t bytes = weight.storage()->nbytes();
  weight.storage()->set_remake([state, eps, bytes, sources = std::move(sources)](void* out) {
    STRATA_CHECK(sources_of(state) == sources,
                 "compiled model: internal error: a folded weight was read after the state it was folded from changed");
    const FoldedConv f = fold_batch_norm(state[0], state[1], state[2], state[3], state[4], state[5], eps,
                                         &system_cpu_allocator());
    std::memcpy(out, f.weight.raw_data(), bytes);
  });
}

}  // namespace

Program::Program(Graph graph) : graph_(std::move(graph)) {
  last_reader_.assign(graph_.values.size(), -1);
  producer_ = graph_.producers();
  state_only_ = graph_.state_derived();
  cache_.resize(graph_.nodes.size());
  std::vector<int> conv_readers(graph_.values.size(), 0);
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i)
    for (ValueId v : graph_.nodes[i].inputs)
      if (v != kNoValue) {
        last_reader_[v] = static_cast<int>(i);
        if (graph_.nodes[i].op == OpKind::Conv) ++conv_readers[v];
      }
  const std::vector<int> readers = graph_.use_counts();
  refoldable_.assign(graph_.nodes.size(), false);
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
    const Node& n = graph_.nodes[i];
    refoldable_[i] = n.op == OpKind::FoldBatchNorm && readers[n.outputs[0]] == 1 && conv_readers[n.outputs[0]] == 1 &&
                     n.outputs[0] != graph_.output;
  }
  find_placements();
}

void Program::find_placements() {
  placement_.assign(graph_.nodes.size(), {});
  cat_in_place_.assign(graph_.nodes.size(), false);
  const std::vector<int> readers = graph_.use_counts();
  for (std::size_t j = 0; j < graph_.nodes.size(); ++j) {
    const Node& cat = graph_.nodes[j];
    if (cat.op != OpKind::Cat) continue;
    const Value& out = graph_.values[cat.output()];
    const int dim = cat.get<CatAttrs>().dim;
    if (!blockable(out.shape) || out.shape[0] != 1 || (dim != 1 && dim != 1 - out.shape.ndim())) continue;
    // Every part in whole 16-channel blocks (as a concatenation that stays blocked, ops/shape.cpp).
    if (!std::all_of(cat.inputs.begin(), cat.inputs.end(), [&](ValueId v) { return blockable(graph_.values[v].shape); }))
      continue;
    const int64_t per_channel = out.shape.numel() / out.shape[1];
    int64_t channel = 0;
    for (ValueId v : cat.inputs) {
      const Value& part = graph_.values[v];
      const int p = producer_[v];
      // Made by an op of the library (not a module run eagerly), read by the concatenation alone.
      if (part.kind == ValueKind::Computed && p >= 0 && !state_only_[p] && graph_.nodes[p].op != OpKind::Call &&
          graph_.nodes[p].outputs.size() == 1 && readers[v] == 1 && v != graph_.output) {
        placement_[p] = {static_cast<int>(j), channel * per_channel};
        cat_in_place_[j] = true;
      }
      channel += part.shape[1];
    }
  }
}

bool Program::placing() { return !GradMode::is_enabled() && !tracing(); }

Program::~Program() {
  if (arena_ != nullptr) arena_->retire();
}

Program::Program(Program&& other) noexcept
    : graph_(std::move(other.graph_)),
      last_reader_(std::move(other.last_reader_)),
      producer_(std::move(other.producer_)),
      state_only_(std::move(other.state_only_)),
      refoldable_(std::move(other.refoldable_)),
      cache_(std::move(other.cache_)),
      placement_(std::move(other.placement_)),
      cat_in_place_(std::move(other.cat_in_place_)),
      parts_copied_(other.parts_copied_.load()),
      plan_(std::move(other.plan_)),
      arena_(std::exchange(other.arena_, nullptr)),
      record_next_run_(other.record_next_run_),
      layouts_seen_(other.layouts_seen_),
      regions_(std::move(other.regions_)) {}

namespace {

// Installs a thread allocator for its scope.
class ThreadAllocator {
 public:
  explicit ThreadAllocator(Allocator* a) : previous_(thread_cpu_allocator()) { set_thread_cpu_allocator(a); }
  ~ThreadAllocator() { set_thread_cpu_allocator(previous_); }
  ThreadAllocator(const ThreadAllocator&) = delete;
  ThreadAllocator& operator=(const ThreadAllocator&) = delete;

 private:
  Allocator* previous_;
};

}  // namespace

void Program::plan_memory(const Tensor& example) {
  record_next_run_ = true;
  run(example);
}

void Program::make_arena() {
  if (arena_ != nullptr) arena_->retire();
  // What the runs so far left in the caching allocator goes back to the system first: the arena
  // holds them all.
  release_cached_cpu_memory();
  arena_ = ArenaAllocator::create(*plan_, cpu_allocator());
}

Tensor Program::run(const Tensor& input) {
  if (thread_cpu_allocator() != nullptr || (!record_next_run_ && arena_ == nullptr)) return run_nodes(input);
  return record_next_run_ ? run_recorded(input) : run_in_arena(input);
}

// The recorded run allocates straight from the system, not through the caching allocator: its
// buffers come and go in many sizes, which the cache would keep side by side (for GoogLeNet at
// batch 64, a peak resident set about 100 MB above the largest set of buffers alive at once).
Tensor Program::run_recorded(const Tensor& input) {
  RecordingAllocator* recorder = RecordingAllocator::create(system_cpu_allocator());
  Tensor out;
  {
    ThreadAllocator scope(recorder);
    try {
      out = run_nodes(input);
    } catch (...) {
      recorder->finish();
      throw;
    }
  }
  plan_ = recorder->finish();
  plan_offsets(*plan_);
  make_arena();
  record_next_run_ = false;
  return out;
}

Tensor Program::run_in_arena(const Tensor& input) {
  if (!arena_->begin_run()) {  // a buffer of an earlier run is still in use: a new arena
    make_arena();
    arena_->begin_run();
  }
  Tensor out;
  {
    ThreadAllocator scope(arena_);
    out = run_nodes(input);
  }
  record_next_run_ = !arena_->on_plan();
  return out;
}

Tensor Program::run_nodes(const Tensor& input) {
  const Value& in = graph_.values[graph_.input];
  STRATA_CHECK(input.defined() && input.shape() == in.shape && input.dtype() == in.dtype,
               "compiled model: traced for inputs of shape ", in.shape, " (", dtype_name(in.dtype), "), got ",
               input.defined() ? input.shape() : Shape{});
  parts_copied_ = 0;
  std::vector<Tensor> slot(graph_.values.size());
  for (std::size_t v = 0; v < graph_.values.size(); ++v)
    if (is_leaf(graph_.values[v].kind)) slot[v] = graph_.values[v].tensor;
  slot[graph_.input] = input;
  const std::vector<BranchRegion>& regions = branch_regions();
  auto region = regions.begin();
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i) {
    if (region != regions.end() && region->first == i) {
      run_region(*region, slot);
      i = region->join;
      ++region;
    }
    run_step(i, slot, nullptr);
  }
  layouts_seen_ = true;
  return slot[graph_.output];
}

void Program::run_step(std::size_t i, std::vector<Tensor>& slot, const BranchRegion* region) {
  const Node& n = graph_.nodes[i];
  std::vector<Tensor> args;
  for (ValueId v : n.inputs) args.push_back(v == kNoValue ? Tensor() : slot[v]);
  std::vector<Tensor> out;
  const auto start = profiling ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point();
  // A concatenation's input goes into its part of the concatenation's buffer (made here, unless
  // this node runs on a thread of a branch region: then run_region made it, if it is the join).
  std::optional<PlacedOutput> placed;
  if (placement_[i].cat >= 0 && placing()) {
    const Node& cat = graph_.nodes[static_cast<std::size_t>(placement_[i].cat)];
    Tensor& buffer = slot[cat.output()];
    if (!buffer.defined() && region == nullptr) buffer = empty_cat_buffer(cat);
    if (buffer.defined()) {
      const Shape& shape = graph_.values[n.output()].shape;
      placed.emplace(make_view(buffer, shape, contiguous_strides(shape), buffer.offset() + placement_[i].offset));
    }
  }
  if (cat_in_place_[i] && slot[n.output()].defined() && placing()) {
    int copied = 0;
    out = {cat_into(slot[n.output()], args, &copied)};
    parts_copied_ += copied;
  } else if (state_only_[i] && !GradMode::is_enabled()) {
    std::vector<uint64_t> sources = sources_of(args);
    if (!cache_[i] || cache_[i]->sources != sources) {
      // Kept across runs: outside the arena and the caching allocator's working set, in pages of
      // their own (which a folded weight gives back once its convolution's kernel keeps a copy).
      ThreadAllocator pages(&page_allocator());
      cache_[i] = Cached{sources, run_node(i, args)};
      if (refoldable_[i]) make_refoldable(cache_[i]->outputs[0], args, n.get<FoldAttrs>().eps, std::move(sources));
    }
    out = cache_[i]->outputs;
  } else {
    out = run_node(i, args);
  }
  if (profiling) {
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::lock_guard<std::mutex> lock(profile_mutex());
    ProfileRow& row = profile_table()[{graph_.op_name(n), n.scope}];
    row.op = graph_.op_name(n);
    row.scope = n.scope;
    row.seconds += seconds;
    ++row.runs;
  }
  for (std::size_t k = 0; k < n.outputs.size(); ++k) {
    if (!layouts_seen_) graph_.values[n.outputs[k]].layout = out[k].layout();
    slot[n.outputs[k]] = std::move(out[k]);
  }
  // What no later node reads goes now (the output stays). Inside a region, a thread lets go of
  // its own chain's values only: the region's input goes on the calling thread, after the join
  // (an arena's buffers are freed on the thread that allocates from it).
  for (ValueId v : n.inputs)
    if (released_after(v, i) &&
        (region == nullptr || (producer_[v] >= static_cast<int>(region->first) && !state_only_[producer_[v]])))
      slot[v] = Tensor();
}

Tensor Program::empty_cat_buffer(const Node& cat) const {
  const Value& out = graph_.values[cat.output()];
  return empty_in(out.shape, out.dtype, Device::cpu(), Layout::Blocked16);
}

bool Program::released_after(ValueId v, std::size_t i) const {
  return v != kNoValue && last_reader_[v] == static_cast<int>(i) && v != graph_.output &&
         graph_.values[v].kind == ValueKind::Computed;
}

const std::vector<BranchRegion>& Program::branch_regions() {
  static const std::vector<BranchRegion> none;
  // Inference only (a training step records the graph's autograd on this thread), and not from
  // inside a parallel region already.
  if (GradMode::is_enabled() || omp_in_parallel()) return none;
  const int threads = omp_get_max_threads();
  if (!regions_ || regions_->first != threads) regions_.emplace(threads, find_branch_regions(graph_, threads));
  return regions_->second;
}

void Program::run_region(const BranchRegion& r, std::vector<Tensor>& slot) {
  for (std::size_t i : r.state_nodes) run_step(i, slot, nullptr);
  // The join's buffer, if its inputs are placed in it, from the calling thread (the arena's).
  const Node& join = graph_.nodes[r.join];
  if (cat_in_place_[r.join] && placing() && !slot[join.output()].defined()) slot[join.output()] = empty_cat_buffer(join);
  const int used = static_cast<int>(r.threads.size());
  const bool caching = weight_caching_enabled();
  std::vector<std::exception_ptr> errors(r.threads.size());
#pragma omp parallel num_threads(used)
  {
    // Each thread as the caller: no gradients, the caller's weight caching; its kernels on one
    // thread (nested regions are inactive). A thread the team lacks has its chains run by another.
    NoGradGuard no_grad;
    std::optional<NoWeightCachingGuard> no_caching;
    if (!caching) no_caching.emplace();
    for (int t = omp_get_thread_num(); t < used; t += omp_get_num_threads()) {
      try {
        for (std::size_t i : r.threads[static_cast<std::size_t>(t)]) run_step(i, slot, &r);
      } catch (...) {
        errors[static_cast<std::size_t>(t)] = std::current_exception();
      }
    }
  }
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
  // The region's inputs whose last reader was inside it.
  for (std::size_t i = r.first; i < r.join; ++i)
    for (ValueId v : graph_.nodes[i].inputs)
      if (released_after(v, i)) slot[v] = Tensor();
}

std::size_t Program::folded_weight_bytes_held() const {
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < graph_.nodes.size(); ++i)
    if (refoldable_[i] && cache_[i] && !cache_[i]->outputs[0].storage()->contents_released())
      bytes += cache_[i]->outputs[0].storage()->nbytes();
  return bytes;
}

void Program::set_profiling(bool on) { profiling = on; }

std::vector<Program::ProfileRow> Program::profile() {
  std::vector<ProfileRow> rows;
  for (const auto& [_, row] : profile_table()) rows.push_back(row);
  std::sort(rows.begin(), rows.end(), [](const ProfileRow& a, const ProfileRow& b) { return a.seconds > b.seconds; });
  return rows;
}

std::vector<Tensor> Program::run_node(std::size_t index, const std::vector<Tensor>& in) {
  const Node& n = graph_.nodes[index];
  switch (n.op) {
    case OpKind::Conv: {
      const ConvAttrs& a = n.get<ConvAttrs>();
      const Epilogue e = epilogue_of(n, in);
      return {a.nd == 2 ? conv2d(in[0], in[1], in[2], a.options, e) : conv3d(in[0], in[1], in[2], a.options, e)};
    }
    case OpKind::BatchNorm: {
      const BatchNormAttrs& a = n.get<BatchNormAttrs>();
      return {batch_norm(in[0], in[1], in[2], in[3], in[4], a.training, a.momentum, a.eps, epilogue_of(n, in))};
    }
    case OpKind::Activation:
      return {activation(in[0], n.get<ActivationAttrs>().kind)};
    case OpKind::Add:
      return {n.epilogue.activation ? add_activation(in[0], in[1], *n.epilogue.activation) : in[0] + in[1]};
    case OpKind::Binary:
      switch (n.get<BinaryAttrs>().kind) {
        case BinaryKind::Sub:
          return {in[0] - in[1]};
        case BinaryKind::Mul:
          return {in[0] * in[1]};
        case BinaryKind::Div:
          return {in[0] / in[1]};
      }
      break;
    case OpKind::Scalar: {
      const ScalarAttrs& a = n.get<ScalarAttrs>();
      switch (a.kind) {
        case ScalarKind::Add:
          return {in[0] + a.value};
        case ScalarKind::Mul:
          return {in[0] * a.value};
        case ScalarKind::ReverseSub:
          return {a.value - in[0]};
        case ScalarKind::ReverseDiv:
          return {a.value / in[0]};
      }
      break;
    }
    case OpKind::Pool: {
      const PoolAttrs& a = n.get<PoolAttrs>();
      return {pool_nd(a.nd, in[0], a.pooling)};
    }
    case OpKind::AdaptiveAvgPool: {
      const AdaptivePoolAttrs& a = n.get<AdaptivePoolAttrs>();
      return {a.nd == 2 ? adaptive_avg_pool2d(in[0], a.output_size) : adaptive_avg_pool3d(in[0], a.output_size)};
    }
    case OpKind::Linear:
      return {linear(in[0], in[1], in[2])};
    case OpKind::Cat:
      return {cat(in, n.get<CatAttrs>().dim)};
    case OpKind::Reshape:
      return {in[0].reshape(n.get<ReshapeAttrs>().shape)};
    case OpKind::Permute:
      return {in[0].permute(n.get<PermuteAttrs>().dims)};
    case OpKind::Slice: {
      const SliceAttrs& a = n.get<SliceAttrs>();
      return {in[0].slice(a.dim, a.start, a.end, a.step)};
    }
    case OpKind::Pad: {
      const PadAttrs& a = n.get<PadAttrs>();
      return {pad(in[0], a.pads, a.mode, a.value)};
    }
    case OpKind::Mean: {
      const MeanAttrs& a = n.get<MeanAttrs>();
      return {in[0].mean(a.dims, a.keepdim)};
    }
    case OpKind::Dropout: {
      const DropoutAttrs& a = n.get<DropoutAttrs>();
      return {dropout(in[0], a.p, a.training)};
    }
    case OpKind::Softmax: {
      const SoftmaxAttrs& a = n.get<SoftmaxAttrs>();
      return {a.log ? log_softmax(in[0], a.dim) : softmax(in[0], a.dim)};
    }
    case OpKind::FoldBatchNorm: {
      const FoldedConv f = fold_batch_norm(in[0], in[1], in[2], in[3], in[4], in[5], n.get<FoldAttrs>().eps);
      return {f.weight, f.bias};
    }
    case OpKind::AddInPlace: {
      NoGradGuard no_grad;
      Tensor target = in[0];
      target.add_(n.get<AddInPlaceAttrs>().value);
      return {};
    }
    case OpKind::Call:
      return {n.get<CallAttrs>().call(in[0])};
  }
  fail("compiled model: internal error: node ", graph_.op_name(n), " cannot run");
}

}  // namespace strata::graph
