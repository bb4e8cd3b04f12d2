// Branch regions (graph/branches.hpp): which joins of an inference graph run their branches side
// by side, how the branches go to threads, and that a compiled model running them so gives its
// eager output.
#include <omp.h>

#include <set>

#include "graph/branches.hpp"
#include "graph/graph_util.hpp"
#include "strata/models.hpp"

namespace strata {
namespace {

using graph::OpKind;

graph::Graph inference_graph(nn::Module& m, const Shape& input) {
  m.eval();
  graph::Graph g = test::trace_of(m, input);
  graph::optimize(g, {.inference = true});
  return g;
}

// GoogLeNet at batch 1: its Inception blocks are regions joined by their concatenations, each
// path on one thread as a whole, every node of the block on exactly one thread.
TEST(BranchRegions, InceptionBlocksAtBatchOne) {
  auto net = models::build("googlenet");
  const graph::Graph g = inference_graph(*net, {1, 1, 96, 96});
  const std::vector<graph::BranchRegion> regions = graph::find_branch_regions(g, 2);
  ASSERT_EQ(regions.size(), 9u) << g.str();  // the nine Inception blocks
  for (const graph::BranchRegion& r : regions) {
    SCOPED_TRACE(g.nodes[r.join].scope);
    EXPECT_EQ(g.nodes[r.join].op, OpKind::Cat);
    ASSERT_EQ(r.threads.size(), 2u);
    std::set<std::size_t> seen(r.state_nodes.begin(), r.state_nodes.end());
    for (const auto& nodes : r.threads) {
      EXPECT_FALSE(nodes.empty());
      for (std::size_t n : nodes) EXPECT_TRUE(seen.insert(n).second) << "node " << n << " twice";
    }
    EXPECT_EQ(seen.size(), r.join - r.first) << "the region's nodes are [first, join)";
    EXPECT_EQ(*seen.begin(), r.first);
    // A path stays on one thread: the 3x3 path's two convolutions (p2_1, p2_2) together.
    for (const auto& nodes : r.threads) {
      int p2 = 0;
      for (std::size_t n : nodes) p2 += g.nodes[n].scope.ends_with(".p2_1") || g.nodes[n].scope.ends_with(".p2_2");
      EXPECT_TRUE(p2 == 0 || p2 == 2) << "p2 split over threads";
    }
  }
  // As `strata summary --graph` prints them: the 3x3 path alone on one thread.
  const std::string text = graph::describe_branch_regions(g, regions);
  EXPECT_EQ(text.rfind("side by side on 2 threads: 9 regions\n  2.0 (cat): 2.0.p2_1 2.0.p2_2 | 2.0.p1_1 ", 0), 0u) << text;
  EXPECT_TRUE(graph::find_branch_regions(g, 1).empty()) << "one thread: no regions";
  EXPECT_EQ(graph::describe_branch_regions(g, {}), "");
  // At batch 64 each convolution has work for every thread: no regions.
  const graph::Graph big = inference_graph(*net, {64, 1, 96, 96});
  EXPECT_TRUE(graph::find_branch_regions(big, 2).empty());
}

// Paths of very unequal cost (a SqueezeNet fire's 1x1 and 3x3 expansions) stay in sequence, each
// convolution on every thread; so does a path that keeps state (dropout in training mode).
TEST(BranchRegions, UnevenOrStatefulPathsStayInSequence) {
  struct Fire : nn::Module {
    Fire() : Module("Fire") {
      squeeze = register_module("squeeze", std::make_shared<nn::Conv2d>(32, 16, 1));
      e1 = register_module("e1", std::make_shared<nn::Conv2d>(16, 64, 1));
      e3 = register_module("e3", std::make_shared<nn::Conv2d>(16, 64, 3, ConvOptions{.padding = 1}));
    }
    Tensor forward(const Tensor& x) override {
      const Tensor s = relu((*squeeze)(x));
      return cat({relu((*e1)(s)), relu((*e3)(s))}, 1);
    }
    std::shared_ptr<nn::Conv2d> squeeze, e1, e3;
  };
  Fire fire;
  EXPECT_TRUE(graph::find_branch_regions(inference_graph(fire, {1, 32, 27, 27}), 2).empty());

  struct Even : nn::Module {
    explicit Even(double p) : Module("Even") {
      a = register_module("a", std::make_shared<nn::Conv2d>(16, 32, 3, ConvOptions{.padding = 1}));
      b = register_module("b", std::make_shared<nn::Conv2d>(16, 32, 3, ConvOptions{.padding = 1}));
      drop = register_module("drop", std::make_shared<nn::Dropout>(p));
    }
    Tensor forward(const Tensor& x) override { return cat({(*a)(x), (*drop)((*b)(x))}, 1); }
    std::shared_ptr<nn::Conv2d> a, b;
    std::shared_ptr<nn::Dropout> drop;
  };
  Even even(0.5);
  EXPECT_EQ(graph::find_branch_regions(inference_graph(even, {1, 16, 12, 12}), 2).size(), 1u)
      << "evaluation: dropout gone, two even paths";
  even.train();
  graph::Graph training = test::trace_of(even, {1, 16, 12, 12});
  graph::optimize(training, {.inference = true});
  EXPECT_TRUE(graph::find_branch_regions(training, 2).empty()) << "dropout in training mode keeps state";
}

// A compiled GoogLeNet at batch 1 runs its regions on two threads and gives the eager model's
// output (each path's kernels then on one thread), as with the regions off (one thread).
TEST(BranchRegions, CompiledRunEqualsEager) {
  auto net = models::build("googlenet");
  net->eval();
  const Tensor x = test::random({1, 1, 96, 96}, 3, DType::F32);
  NoGradGuard no_grad;
  const Tensor eager = to_layout(net->forward(x).detach(), Layout::Strided).contiguous();
  const int threads = omp_get_max_threads();
  for (int t : {2, 1}) {
    SCOPED_TRACE(t);
    omp_set_num_threads(t);
    graph::Program program(inference_graph(*net, {1, 1, 96, 96}));
    for (int run = 0; run < 2; ++run) {
      if (run == 1) program.plan_memory(x);  // the arena's runs too
      test::expect_close(to_layout(program.run(x).detach(), Layout::Strided).contiguous(), eager, 1e-5);
      // Each block's four paths wrote their outputs into its concatenation's buffer.
      EXPECT_EQ(program.concat_parts_copied(), 0);
    }
  }
  omp_set_num_threads(threads);
}

}  // namespace
}  // namespace strata
