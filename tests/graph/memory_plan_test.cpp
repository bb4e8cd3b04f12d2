// Memory planning: the placement of blocks by their lives, a compiled model's runs from its arena
// (the same values as without a plan, outputs that stay valid across runs and after the model is
// gone), and the peak a plan gives against the buffers' sum.
#include "graph/graph_util.hpp"
#include "graph/memory_plan.hpp"

namespace strata {
namespace {

using graph::MemoryPlan;
using namespace nn;

MemoryPlan::Block block(std::size_t bytes, int64_t from, int64_t to) { return {bytes, from, to, 0}; }

bool share_bytes(const MemoryPlan::Block& a, const MemoryPlan::Block& b) {
  return a.offset < b.offset + b.bytes && b.offset < a.offset + a.bytes;
}

TEST(PlanOffsets, BlocksAliveTogetherNeverShareBytesOthersDo) {
  MemoryPlan plan;
  // A chain of layers: each output lives from its allocation to its reader's end, and a long-
  // lived residual beside them; one block outlives the run.
  plan.blocks = {block(1000, 0, 3), block(3000, 1, 5), block(500, 2, 9), block(3000, 4, 7),
                 block(1000, 6, 8), block(64, 10, -1)};
  graph::plan_offsets(plan);
  for (std::size_t i = 0; i < plan.blocks.size(); ++i) {
    const MemoryPlan::Block& a = plan.blocks[i];
    if (a.outlives_run()) continue;
    EXPECT_EQ(a.offset % kStorageAlignment, 0u);
    EXPECT_LE(a.offset + a.bytes, plan.arena_bytes);
    for (std::size_t j = 0; j < i; ++j) {
      const MemoryPlan::Block& b = plan.blocks[j];
      if (b.outlives_run()) continue;
      const bool together = a.allocated < b.freed && b.allocated < a.freed;
      if (together) {
        EXPECT_FALSE(share_bytes(a, b)) << i << " and " << j;
      }
    }
  }
  // The peak of live bytes (blocks 1, 2, 3 at event 4: 3000 + 500 + 3008 rounded) is all it takes.
  EXPECT_EQ(plan.arena_bytes, 3008u + 512u + 3008u);
  EXPECT_EQ(plan.total_bytes, 1024u + 3008u + 512u + 3008u + 1024u);
}

// Its first convolution reads 16 channels: oneDNN's, whose pooling runs as an op of its own with a
// buffer between the two (a 1-3 channel stem or a few-channel convolution pools in its own pass).
std::shared_ptr<Sequential> small_net() {
  return std::make_shared<Sequential>(std::vector<ModulePtr>{
      std::make_shared<Conv2d>(16, 16, 3, ConvOptions{.padding = 1}), std::make_shared<BatchNorm2d>(16),
      std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2), std::make_shared<Conv2d>(16, 8, 3),
      std::make_shared<Flatten>(), std::make_shared<Linear>(8 * 2 * 2, 5)});
}

// A compiled model in inference runs from its arena: values equal the eager model's, every output
// stays as it was while later calls run, and outputs outlive the model itself.
TEST(MemoryPlan, CompiledInferenceRunsFromItsArena) {
  auto eager = small_net(), net = small_net();
  net->load_state_dict(eager->state_dict());
  eager->eval();
  net->eval();
  net->hybridize();
  NoGradGuard no_grad;
  const Shape shape{4, 16, 8, 8};
  const Module::CompiledGraph g = net->compiled_graph(shape);
  EXPECT_GT(g.arena_bytes, 0u);
  EXPECT_LT(g.arena_bytes, g.unplanned_bytes) << "buffers whose lives do not overlap share bytes";
  std::vector<Tensor> inputs, outputs;
  for (uint64_t seed = 1; seed <= 4; ++seed) {
    inputs.push_back(test::random(shape, seed, DType::F32));
    outputs.push_back((*net)(inputs.back()));
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) test::expect_close(outputs[i], (*eager)(inputs[i]), 1e-5);
  net.reset();  // the arena goes once the outputs it did not hold are the only thing left
  for (std::size_t i = 0; i < inputs.size(); ++i) test::expect_close(outputs[i], (*eager)(inputs[i]), 1e-5);
}

// The recorded run's allocations, served from the arena in the same order by later runs.
TEST(MemoryPlan, ProgramRunsStayOnThePlan) {
  auto net = small_net();
  net->eval();
  graph::Graph g = test::trace_of(*net, {2, 16, 8, 8});
  graph::optimize(g, {.inference = true});
  graph::Program program(g);
  NoGradGuard no_grad;
  const Tensor x = test::random({2, 16, 8, 8}, 1, DType::F32);
  program.plan_memory(x);
  ASSERT_NE(program.memory_plan(), nullptr);
  const std::size_t blocks = program.memory_plan()->blocks.size();
  EXPECT_GT(blocks, 3u);
  const Tensor first = program.run(x).detach().clone();
  for (int i = 0; i < 3; ++i) test::expect_close(program.run(x), first, 0);
  EXPECT_EQ(program.memory_plan()->blocks.size(), blocks) << "no run left the plan";
}

// A concatenation of one image in whole 16-channel blocks is written in place: each part read by
// it alone goes straight into its part of the concatenation's buffer (a convolution's output, a
// pooling fused after a convolution); a part read by another node too (here the block's input)
// is copied. Every run, planned or not, gives the eager output; with two images nothing is
// placed. Parts of 8 channels leave the whole concatenation as it was.
TEST(ConcatInPlace, PartsReadOnlyByTheConcatenationAreWrittenWhereTheyGo) {
  struct Paths : Module {
    std::shared_ptr<Conv2d> a = register_module("a", std::make_shared<Conv2d>(16, 32, 3, ConvOptions{.padding = 1}));
    std::shared_ptr<Conv2d> b = register_module("b", std::make_shared<Conv2d>(16, 16, 1));
    Paths() : Module("Paths") {}
    Tensor forward(const Tensor& x) override {
      return cat({relu((*a)(x)), x, max_pool2d((*b)(x), {.kernel = 3, .stride = 1, .padding = 1})}, 1);
    }
  } paths;
  struct Narrow : Module {
    std::shared_ptr<Conv2d> a = register_module("a", std::make_shared<Conv2d>(16, 8, 1));
    std::shared_ptr<Conv2d> b = register_module("b", std::make_shared<Conv2d>(16, 8, 1));
    std::shared_ptr<Conv2d> c = register_module("c", std::make_shared<Conv2d>(16, 16, 1));
    Narrow() : Module("Narrow") {}
    Tensor forward(const Tensor& x) override { return cat({(*a)(x), (*b)(x), (*c)(x)}, 1); }
  } narrow;
  NoGradGuard no_grad;
  for (Backend backend : {Backend::Ref, Backend::Dnnl}) {
  if (!backend_available(backend)) continue;
  SCOPED_TRACE(backend_name(backend));
  BackendGuard guard(backend);
  for (Module* m : {static_cast<Module*>(&paths), static_cast<Module*>(&narrow)}) {
    SCOPED_TRACE(m->type_name());
    m->eval();
    for (int64_t n : {1, 2}) {
      SCOPED_TRACE(n);
      const Shape shape{n, 16, 7, 7};
      const Tensor x = test::random(shape, 5, DType::F32);
      const Tensor eager = to_layout(m->forward(x).detach(), Layout::Strided).contiguous();
      graph::Graph g = test::trace_of(*m, shape);
      graph::optimize(g, {.inference = true});
      graph::Program program(g);
      for (int run = 0; run < 3; ++run) {
        if (run == 1) program.plan_memory(x);
        test::expect_close(to_layout(program.run(x).detach(), Layout::Strided).contiguous(), eager, 1e-5);
        // oneDNN's kernels write the two paths where they go; the reference kernels write
        // plain tensors, which the concatenation copies.
        const int copied = n == 1 && m == &paths ? (backend == Backend::Dnnl ? 1 : 3) : 0;
        EXPECT_EQ(program.concat_parts_copied(), copied);
      }
    }
  }
  }
}

}  // namespace
}  // namespace strata
