// Weights trained in PyTorch load into Strata's lenet-bn and give PyTorch's logits.
//
// tests/fixtures/golden/lenet_bn_torch.safetensors is a PyTorch lenet-bn (seed 7, running
// statistics moved by two training-mode batches), written by tools/make_golden.py with:
//   PYTHONPATH=tools /usr/bin/python3 tools/torch_weights.py export make_golden:torch_lenet_bn
//       tests/fixtures/golden/lenet_bn_torch.safetensors --seed 7
//       --metadata strata.model=lenet-bn strata.input=1,28,28
// (one command line).
// lenet_bn_torch.json holds the float32 logits PyTorch computed with them for the formula input.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/test_util.hpp"
#include "models/golden.hpp"

namespace strata {
namespace {

TEST(TorchWeights, LenetBnFromPyTorchGivesPyTorchsLogits) {
  const nlohmann::json g = test::load_golden("lenet_bn_torch.json");
  auto model = models::build("lenet-bn");
  const io::Metadata metadata = nn::load_weights(*model, test::golden_dir() / g.at("weights").get<std::string>());
  EXPECT_EQ(metadata, (io::Metadata{{"strata.model", "lenet-bn"}, {"strata.input", "1,28,28"}}));
  for (const auto& [name, b] : model->named_buffers()) {
    if (!name.ends_with("num_batches_tracked")) continue;
    EXPECT_EQ(b.item(), 2) << name;
  }

  const Tensor x = test::formula_tensor(test::shape_of(g.at("input")), 0, 1.0);
  model->eval();
  NoGradGuard no_grad;
  const double eval_err = test::relative_error((*model)(x), test::matrix_of(g.at("logits_eval")));
  model->train();
  const double train_err = test::relative_error((*model)(x), test::matrix_of(g.at("logits_train")));
  EXPECT_LE(eval_err, 1e-4);
  EXPECT_LE(train_err, 1e-4);
  std::printf("[torch weights] lenet-bn logits: evaluation %.2e, training %.2e relative error\n", eval_err, train_err);
}

}  // namespace
}  // namespace strata
