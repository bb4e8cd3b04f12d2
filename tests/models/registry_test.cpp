// models::register_model: a model of the user's own is found and built by name like the zoo's.
#include "common/test_util.hpp"
#include "strata/models.hpp"
#include "strata/nn.hpp"

using namespace strata;

namespace {

std::shared_ptr<nn::Module> two_layer(const models::ModelOptions& o) {
  return nn::sequential({std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(o.in_channels * 8 * 8, 16),
                         std::make_shared<nn::ReLU>(), std::make_shared<nn::Linear>(16, o.num_classes)});
}

}  // namespace

TEST(Registry, ARegisteredModelIsFoundAndBuiltByName) {
  models::register_model({"two-layer", "a user's model", {1, 1, 8, 8}, {0.1, 32, 2, 8}, two_layer});
  EXPECT_EQ(models::find("two-layer").description, "a user's model");
  EXPECT_EQ(models::lookup("two-layer")->input, Shape({1, 1, 8, 8}));
  EXPECT_EQ(models::lookup("no-such-model"), nullptr);
  const auto model = models::build("two-layer", {.in_channels = 3, .num_classes = 5});
  EXPECT_EQ(model->num_parameters(), 3 * 64 * 16 + 16 + 16 * 5 + 5);
  // The zoo stays the book's; the error for an unknown name lists both.
  for (const models::ModelInfo& m : models::zoo()) EXPECT_NE(m.name, "two-layer");
  test::expect_error([] { models::find("nope"); }, "resnet3d18, two-layer");

  test::expect_error([] { models::register_model({"two-layer", "", {1, 1, 8, 8}, {}, two_layer}); },
                     "a model named 'two-layer' exists already");
  test::expect_error([] { models::register_model({"lenet", "", {1, 1, 8, 8}, {}, two_layer}); }, "exists already");
  test::expect_error([] { models::register_model({"flat", "", {1, 64}, {}, two_layer}); },
                     "input must be {1, C, H, W} or {1, C, D, H, W}, got [1,64]");
  test::expect_error([] { models::register_model({"nobuild", "", {1, 1, 8, 8}, {}, {}}); }, "has no builder");
}
