// evaluate(): the confusion matrix, accuracies and checks, with a model whose predictions are
// known (the logits are the pixels).
#include <cmath>

#include "train_util.hpp"

using namespace strata;
using namespace strata::train;
using strata::test::expect_error;

namespace {

// 1 x 1 x 4 images whose brightest pixel is `predicted`, labelled `label`.
data::ImageDataset pixel_dataset(const std::vector<std::pair<int64_t, int64_t>>& label_predicted) {
  data::ImageDataset ds;
  ds.channels = 1;
  ds.height = 1;
  ds.width = 4;
  ds.class_names = {"zero", "one", "two", "three"};
  for (auto [label, predicted] : label_predicted) {
    for (int64_t k = 0; k < 4; ++k) ds.pixels.push_back(k == predicted ? 200 : static_cast<uint8_t>(10 * k));
    ds.labels.push_back(label);
  }
  return ds;
}

}  // namespace

TEST(Evaluate, ConfusionMatrixAndAccuracies) {
  const data::DataLoader loader(pixel_dataset({{0, 0}, {0, 1}, {0, 0}, {1, 1}, {2, 0}, {0, 0}, {2, 2}, {1, 1}}),
                                {.batch_size = 3});
  nn::Flatten model;  // logits = the 4 pixels
  model.train();
  const Evaluation ev = evaluate(model, loader);
  EXPECT_TRUE(model.is_training()) << "evaluate must restore the mode";
  EXPECT_EQ(ev.class_names, (std::vector<std::string>{"zero", "one", "two", "three"}));
  EXPECT_EQ(ev.confusion, (std::vector<std::vector<int64_t>>{{3, 1, 0, 0}, {0, 2, 0, 0}, {1, 0, 1, 0}, {0, 0, 0, 0}}));
  EXPECT_EQ(ev.count(), 8);
  EXPECT_EQ(ev.correct(), 6);
  EXPECT_DOUBLE_EQ(ev.accuracy(), 0.75);
  EXPECT_EQ(ev.class_count(0), 4);
  EXPECT_EQ(ev.class_count(3), 0);
  EXPECT_DOUBLE_EQ(ev.class_accuracy(0), 0.75);
  EXPECT_DOUBLE_EQ(ev.class_accuracy(1), 1.0);
  EXPECT_DOUBLE_EQ(ev.class_accuracy(2), 0.5);
  EXPECT_TRUE(std::isnan(ev.class_accuracy(3)));
  expect_error([&] { ev.class_accuracy(4); }, "Evaluation: class 4 is outside [0, 4)");
}

TEST(Evaluate, ConfusionMatrixOfARealModelSumsToTheTestSet) {
  const data::DataLoader loader(strata::test::fashion().test, {.batch_size = 100, .limit = 300});
  auto model = models::build("lenet");
  models::init_book(*model);
  const Evaluation ev = evaluate(*model, loader);
  EXPECT_EQ(ev.count(), 300);
  int64_t rows = 0;
  for (int64_t k = 0; k < 10; ++k) rows += ev.class_count(k);
  EXPECT_EQ(rows, 300);
  EXPECT_EQ(ev.class_names, data::fashion_mnist_class_names());
}

TEST(Evaluate, LogitsThatDoNotFitTheClassesAreAnError) {
  data::ImageDataset ds = pixel_dataset({{0, 0}, {1, 1}});
  ds.class_names = {"a", "b", "c"};  // 3 classes but 4 logits
  ds.labels = {0, 2};
  const data::DataLoader loader(std::move(ds), {.batch_size = 2});
  nn::Flatten model;
  expect_error(
      [&] { evaluate(model, loader); },
      "evaluate: the model gives logits of shape [2,4] for a batch of 2 images, but the dataset has 3 classes");
}
