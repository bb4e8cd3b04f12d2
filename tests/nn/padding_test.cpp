// The padding layers (nn::ConstantPadNd, ZeroPad2d, ReflectionPadNd, ReplicationPadNd) against
// PyTorch 1.13's outputs for the same inputs, their errors, and a compiled model using them.
#include <gtest/gtest.h>

#include "common/test_util.hpp"
#include "strata/onnx.hpp"

namespace strata::nn {
namespace {

// 0 1 2 / 3 4 5 as (1, 1, 2, 3).
Tensor two_by_three() { return test::image({0, 1, 2, 3, 4, 5}, {1, 1, 2, 3}); }

TEST(Padding, GivesPyTorchsValues) {
  // torch.nn.ReflectionPad2d((2, 1, 1, 0))(torch.arange(6.).reshape(1, 1, 2, 3))
  test::expect_near(ReflectionPad2d({2, 1, 1, 0}).forward(two_by_three()), {1, 1, 3, 6},
                    {5, 4, 3, 4, 5, 4, 2, 1, 0, 1, 2, 1, 5, 4, 3, 4, 5, 4});
  // torch.nn.ReplicationPad2d((1, 0, 0, 2))
  test::expect_near(ReplicationPad2d({1, 0, 0, 2}).forward(two_by_three()), {1, 1, 4, 4},
                    {0, 0, 1, 2, 3, 3, 4, 5, 3, 3, 4, 5, 3, 3, 4, 5});
  // torch.nn.ConstantPad2d((-1, 1, 0, 1), 7.): a negative amount crops
  test::expect_near(ConstantPad2d({-1, 1, 0, 1}, 7.0).forward(two_by_three()), {1, 1, 3, 3},
                    {1, 2, 7, 4, 5, 7, 7, 7, 7});
  test::expect_near(ZeroPad2d(1).forward(two_by_three()), {1, 1, 4, 5},
                    {0, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 3, 4, 5, 0, 0, 0, 0, 0, 0});
  // torch.nn.ReflectionPad1d(2)(torch.arange(4.).reshape(1, 4)): (C, W) without a batch
  test::expect_near(ReflectionPad1d(2).forward(test::image({0, 1, 2, 3}, {1, 4})), {1, 8}, {2, 1, 0, 1, 2, 3, 2, 1});
  // 3-D: the depth too, one amount for every side.
  const Tensor cube = ReplicationPad3d(1).forward(test::image({1, 2}, {1, 1, 2, 1, 1}));
  EXPECT_EQ(cube.shape(), (Shape{1, 1, 4, 3, 3}));
  EXPECT_EQ(cube.sum().item(), 9 * 1 + 9 * 1 + 9 * 2 + 9 * 2);
}

TEST(Padding, PrintsAsPyTorch) {
  EXPECT_EQ(ZeroPad2d(1).str(), "ZeroPad2d((1, 1, 1, 1))");
  EXPECT_EQ(ConstantPad1d({1, 2}, 3.5).str(), "ConstantPad1d(padding=(1, 2), value=3.5)");
  EXPECT_EQ(ReflectionPad2d({1, 0, 2, 1}).str(), "ReflectionPad2d((1, 0, 2, 1))");
  EXPECT_EQ(ReplicationPad3d(1).str(), "ReplicationPad3d((1, 1, 1, 1, 1, 1))");
}

TEST(Padding, ErrorsNameTheLayerAndWhatItTakes) {
  test::expect_error([] { ReflectionPad2d({1, 1}); }, "ReflectionPad2d: padding takes 4 amounts");
  test::expect_error([] { ReflectionPad2d(1).forward(test::random({3, 3}, 1, DType::F32)); },
                     "ReflectionPad2d: expected an input of 3 or 4 dimensions");
  test::expect_error([] { ReflectionPad2d(2).forward(two_by_three()); }, "reflect");
}

// A model with padding layers traces, and its compiled forward and gradients equal eager mode's.
TEST(Padding, CompiledEqualsEager) {
  auto make = [] {
    manual_seed(3);
    return std::make_shared<Sequential>(std::vector<ModulePtr>{
        std::make_shared<ReflectionPad2d>(1), std::make_shared<Conv2d>(2, 4, 3), std::make_shared<ReLU>(),
        std::make_shared<ReplicationPad2d>(std::vector<int64_t>{0, 1, 1, 0}), std::make_shared<Conv2d>(4, 2, 2)});
  };
  auto eager = make(), compiled = make();
  compiled->hybridize();
  const Tensor x = test::random({2, 2, 6, 5}, 4, DType::F32);
  const Tensor ye = eager->forward(x), yc = (*compiled)(x);
  test::expect_close(yc, ye, 1e-6);
  ye.sum().backward();
  yc.sum().backward();
  const auto pe = eager->named_parameters(), pc = compiled->named_parameters();
  for (std::size_t i = 0; i < pe.size(); ++i) test::expect_close(pc[i].second.grad(), pe[i].second.grad(), 1e-5);
  const std::string graph = compiled->compiled_graph(x.shape()).traced;
  EXPECT_NE(graph.find("pad_reflect("), std::string::npos) << graph;
  EXPECT_NE(graph.find("pad_edge("), std::string::npos) << graph;
  // Exported as ONNX Pad nodes (reflect, edge) and imported again: the same outputs.
  eager->eval();
  const onnx::Imported back = onnx::from_bytes(onnx::to_bytes(*eager, x.shape()));
  NoGradGuard no_grad;
  test::expect_close(back.module->forward(x), eager->forward(x), 1e-6);
}

}  // namespace
}  // namespace strata::nn
