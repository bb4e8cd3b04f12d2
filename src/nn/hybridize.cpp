// Hybridized modules: a Module's call runs a compiled graph::Program, one per input shape and set
// of modes, traced on first use (see Module::hybridize in strata/nn/module.hpp).
#include <omp.h>

#include <algorithm>
#include <memory>
#include <utility>

#include "graph/passes.hpp"
#include "graph/program.hpp"
#include "graph/trace.hpp"
#include "nn/trace_module.hpp"
#include "strata/autograd.hpp"
#include "strata/nn/module.hpp"
#include "strata/storage.hpp"

namespace strata::nn {
namespace {

// What a compiled graph depends on besides the parameters' values.
struct Key {
  Shape shape;
  DType dtype = DType::F32;
  bool gradients = true;       // GradMode at the call: off lets batch norms fold
  std::vector<bool> training;  // every module's mode, in named_modules() order
  friend bool operator==(const Key&, const Key&) = default;
};

void collect_modes(const Module& m, std::vector<bool>& out) {
  out.push_back(m.is_training());
  for (const auto& [_, child] : m.children()) collect_modes(*child, out);
}

// At most this many compiled graphs per module (input shapes times modes); the least recently
// used goes first.
constexpr std::size_t kMaxPrograms = 8;

// A graph as traced and the program of its optimized form.
struct Compiled {
  graph::Graph traced;
  graph::Program program;
};

}  // namespace

struct Module::Hybrid {
  std::vector<std::pair<Key, std::unique_ptr<Compiled>>> programs;  // most recently used last

  Compiled& compiled(Module& m, const Shape& shape, DType dtype) {
    Key key{shape, dtype, GradMode::is_enabled(), {}};
    collect_modes(m, key.training);
    auto it = std::find_if(programs.begin(), programs.end(), [&](const auto& p) { return p.first == key; });
    if (it != programs.end()) {
      std::rotate(it, it + 1, programs.end());
      return *programs.back().second;
    }
    const bool training = std::any_of(key.training.begin(), key.training.end(), [](bool t) { return t; });
    graph::Graph traced = trace_for_batch(m, shape, dtype, training), optimized = traced;
    graph::optimize(optimized, {.inference = !key.gradients});
    auto compiled = std::make_unique<Compiled>(Compiled{std::move(traced), graph::Program(std::move(optimized))});
    // Inference (every module in evaluation, no gradients) gets its memory planned now, so that its
    // peak is known before the first call.
    if (!key.gradients && !training) {
      StateGuard state(m);
      compiled->program.plan_memory(zeros(shape, dtype));
    }
    if (programs.size() >= kMaxPrograms) programs.erase(programs.begin());
    programs.emplace_back(std::move(key), std::move(compiled));
    return *programs.back().second;
  }

  // The graph for `shape`, traced for a small batch and made the graph of shape[0] where the
  // forward allows (graph::rebatch): a batch of 1 and 2 (2 and 4 in training, where batch norms
  // need two values).
  static graph::Graph trace_for_batch(Module& m, const Shape& shape, DType dtype, bool training) {
    const int64_t small = training ? 2 : 1;
    if (shape.ndim() > 0 && shape[0] > 2 * small) {
      Shape a = shape, b = shape;
      a[0] = small;
      b[0] = 2 * small;
      try {
        const graph::Graph one = trace_module(m, a, dtype), two = trace_module(m, b, dtype);
        if (std::optional<graph::Graph> g = graph::rebatch(one, two, shape[0])) return *g;
      } catch (const Error&) {
        // a forward that takes only larger batches: traced for shape itself below
      }
    }
    return trace_module(m, shape, dtype);
  }
};

Tensor Module::operator()(const Tensor& x) {
  if (hybrid_ && x.defined() && !graph::tracing() && !ForwardObserver::active())
    return hybrid_->compiled(*this, x.shape(), x.dtype()).program.run(x);
  graph::ModuleScope scope(path(), type_name_, [this](const Tensor& in) { return (*this)(in); }, x);
  const Tensor y = call_as_layer(x, [this](const Tensor& in) { return forward(in); });
  scope.finish(y);
  return y;
}

void Module::hybridize(bool on) {
  if (!on) hybrid_.reset();
  else if (!hybrid_) hybrid_ = std::make_shared<Hybrid>();
}

Module::CompiledGraph Module::compiled_graph(const Shape& input_shape) {
  STRATA_CHECK(hybrid_ != nullptr, type_name_, ": compiled_graph needs a hybridized module (call hybridize() first)");
  const Compiled& c = hybrid_->compiled(*this, input_shape, DType::F32);
  const graph::MemoryPlan* plan = c.program.memory_plan();
  const std::vector<graph::BranchRegion> regions =
      GradMode::is_enabled() ? std::vector<graph::BranchRegion>{}
                             : graph::find_branch_regions(c.program.graph(), omp_get_max_threads());
  return {c.traced.str(), c.program.graph().str(), plan ? plan->arena_bytes : 0, plan ? plan->total_bytes : 0,
          graph::describe_branch_regions(c.program.graph(), regions)};
}

}  // namespace strata::nn

namespace strata {

std::shared_ptr<nn::Module> compile(std::shared_ptr<nn::Module> module, const Shape& input_shape) {
  STRATA_CHECK(module != nullptr, "compile: the module is null");
  module->hybridize();
  module->compiled_graph(input_shape);
  return module;
}

}  // namespace strata
