// Trainer: learning on Fashion-MNIST, the run directory's files, divergence, and set-up checks.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "train_util.hpp"

using namespace strata;
using namespace strata::train;
using strata::test::expect_error;
using strata::test::fashion;
using strata::test::read_text;
using strata::test::short_recipe;
using strata::test::TempDir;
using strata::test::tiny_config;
using strata::test::tiny_model;

namespace {

// Per-batch losses recovered from the running means of BatchProgress (equal batch sizes).
struct LossRecorder {
  std::vector<double> running;
  std::vector<double> batch_losses() const {
    std::vector<double> out;
    for (std::size_t b = 0; b < running.size(); ++b)
      out.push_back(running[b] * static_cast<double>(b + 1) - (b ? running[b - 1] * static_cast<double>(b) : 0.0));
    return out;
  }
};

double mean_of_last(const std::vector<double>& v, std::size_t n) {
  double s = 0;
  for (std::size_t i = v.size() - n; i < v.size(); ++i) s += v[i];
  return s / static_cast<double>(n);
}

std::vector<std::vector<std::string>> csv_rows(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::stringstream in(text);
  for (std::string line; std::getline(in, line);) {
    std::vector<std::string> cells;
    std::stringstream cs(line);
    for (std::string cell; std::getline(cs, cell, ',');) cells.push_back(cell);
    rows.push_back(cells);
  }
  return rows;
}

}  // namespace

// The book's lr 0.9 with batch 256 leaves sigmoid LeNet at chance after 8 steps (it needs a few
// hundred SGD steps to leave the plateau: test acc 0.093 measured), so this test uses Adam with
// small batches: 125 steps reach about 0.47 test accuracy.
TEST(Trainer, LenetLearnsInOneEpochOf2000Images) {
  TempDir dir;
  TrainConfig c = short_recipe("lenet", dir.path(), 2000, 1000);
  c.optimizer = OptimizerKind::Adam;
  c.lr = 0.005;
  c.batch_size = 16;
  Trainer trainer(c, fashion());
  LossRecorder rec;
  const TrainResult r = trainer.run({.on_batch = [&](const BatchProgress& p) { rec.running.push_back(p.loss); }});
  ASSERT_EQ(rec.running.size(), 125u);
  const std::vector<double> losses = rec.batch_losses();
  EXPECT_GT(losses.front(), 2.2);
  EXPECT_LT(mean_of_last(losses, 25), 0.85 * losses.front()) << "the loss did not fall";
  ASSERT_EQ(r.history.size(), 1u);
  EXPECT_NEAR(r.history[0].loss, rec.running.back(), 1e-12);
  EXPECT_GT(r.test_acc, 0.3) << "chance is 0.1";
  EXPECT_EQ(r.best_epoch, 1);
}

// lenet-bn with the book's own learning rate (1.0) learns fast: 32 steps of batch 64.
TEST(Trainer, LenetBnWithTheBookLearningRateBeatsHalfAccuracyInOneEpoch) {
  TempDir dir;
  TrainConfig c = short_recipe("lenet-bn", dir.path(), 2000, 1000);
  c.batch_size = 64;
  const TrainResult r = Trainer(c, fashion()).run();
  EXPECT_GT(r.test_acc, 0.5);
  EXPECT_GT(r.history[0].train_acc, 0.3);
  EXPECT_LT(r.history[0].loss, 2.0);
  EXPECT_GT(r.history[0].examples_per_sec, 0.0);
  EXPECT_GE(r.history[0].data_wait_sec, 0.0);
}

TEST(Trainer, WritesEveryFileOfTheRunDirectory) {
  TempDir dir;
  TrainConfig c = tiny_config(dir / "run");
  c.schedule = ScheduleKind::Cosine;
  c.normalize = true;
  c.augment = true;
  Trainer trainer(c, fashion(), tiny_model);
  EXPECT_EQ(trainer.config().mean.size(), 1u) << "normalisation statistics are computed";
  EXPECT_NEAR(trainer.config().mean[0], 0.286, 0.02);  // Fashion-MNIST's pixel mean
  EXPECT_NEAR(trainer.config().std[0], 0.353, 0.02);
  EXPECT_GT(trainer.config().threads, 0);
  const RunFiles& f = trainer.files();
  ASSERT_TRUE(std::filesystem::exists(f.config)) << "config.json is written when the run starts";
  std::vector<int64_t> epochs_seen;
  const TrainResult r = trainer.run({.on_epoch = [&](const EpochMetrics& m) { epochs_seen.push_back(m.epoch); }});
  EXPECT_EQ(epochs_seen, (std::vector<int64_t>{1, 2}));

  // config.json: the resolved config.
  EXPECT_EQ(config_from_json(read_text(f.config)), trainer.config());

  // metrics.csv: header + one row per epoch, matching the history.
  const auto rows = csv_rows(read_text(f.metrics));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0], (std::vector<std::string>{"epoch", "loss", "train_acc", "test_acc", "examples_per_sec",
                                               "data_wait_sec", "lr", "seconds"}));
  for (std::size_t e = 1; e <= 2; ++e) {
    ASSERT_EQ(rows[e].size(), 8u);
    EXPECT_EQ(std::stoll(rows[e][0]), static_cast<long long>(e));
    EXPECT_NEAR(std::stod(rows[e][1]), r.history[e - 1].loss, 1e-6);
    EXPECT_NEAR(std::stod(rows[e][3]), r.history[e - 1].test_acc, 1e-6);
    EXPECT_GT(std::stod(rows[e][4]), 0.0);
  }
  // The schedule runs per iteration: 512 / 32 = 16 per epoch, the last at step 31.
  EXPECT_DOUBLE_EQ(r.history[1].lr, optim::WarmupCosineLR(0.1, 0, 32).lr(31));
  EXPECT_GT(r.history[1].test_acc, 0.2) << "chance is 0.1";

  // curves.svg: the three series with a point per epoch.
  const std::string svg = read_text(f.curves);
  for (const char* id : {"<g id=\"train-loss\"", "<g id=\"train-acc\"", "<g id=\"test-acc\""})
    EXPECT_NE(svg.find(id), std::string::npos) << id;
  EXPECT_TRUE(svg.ends_with("</svg>\n"));

  // model.safetensors and best.safetensors: the weights with Strata's metadata.
  const io::TensorFile model = io::load_safetensors(f.model);
  EXPECT_EQ(model.metadata.at("strata.model"), "tiny");
  EXPECT_EQ(model.metadata.at("strata.input"), "1,28,28");
  EXPECT_EQ(nlohmann::json::parse(model.metadata.at("strata.classes")).get<std::vector<std::string>>(),
            data::fashion_mnist_class_names());
  EXPECT_EQ(model.metadata.at("strata.dataset"), "fashion-mnist");
  EXPECT_NE(model.metadata.at("strata.normalize").find("\"mean\""), std::string::npos);
  strata::test::expect_bitwise_equal(model.tensors, trainer.model().state_dict());
  const io::TensorFile best = io::load_safetensors(f.best);
  EXPECT_EQ(best.tensors.size(), model.tensors.size());

  // checkpoint.safetensors: model and optimizer state.
  const io::TensorFile ckpt = io::load_safetensors(f.checkpoint);
  EXPECT_NE(ckpt.find("model.5.weight"), nullptr);
  EXPECT_EQ(ckpt.metadata.at("strata.checkpoint.epoch"), "2");
  EXPECT_EQ(ckpt.metadata.at("strata.model"), "tiny");

  // model.onnx: the strata tool cannot build "tiny" (a builder's model) by name.
  EXPECT_TRUE(std::filesystem::is_regular_file(f.onnx));
  // Nothing but the seven files: no temporary left behind.
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(f.dir)) {
    ++files;
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
  }
  EXPECT_EQ(files, 7);
}

// lr 1e37 overflows LeNet's weights within a few steps (lr 1e10 still gives a finite, absurd
// loss of about 1e11: only NaN and infinity count as divergence).
TEST(Trainer, AHugeLearningRateStopsWithADivergenceError) {
  TempDir dir;
  TrainConfig c = short_recipe("lenet", dir.path(), 256, 64);
  c.lr = 1e37;
  c.batch_size = 32;
  Trainer trainer(c, fashion());
  try {
    trainer.run();
    FAIL() << "expected TrainingDiverged";
  } catch (const TrainingDiverged& e) {
    const std::string msg = e.what();
    EXPECT_EQ(e.epoch(), 1);
    EXPECT_GE(e.batch(), 2);
    EXPECT_TRUE(msg.starts_with("loss became ")) << msg;
    EXPECT_NE(msg.find(" at epoch 1, batch " + std::to_string(e.batch()) +
                       ": training diverged; try a smaller --lr. No epoch finished before epoch 1, so there is no "
                       "checkpoint."),
              std::string::npos)
        << msg;
  }
  EXPECT_FALSE(std::filesystem::exists(trainer.files().checkpoint));
}

namespace {

// Wraps the tiny model; once *poison is set, its logits are NaN.
class Poisonable : public nn::Module {
 public:
  Poisonable(const models::ModelOptions& o, const bool* poison) : Module("Poisonable"), poison_(poison) {
    net_ = register_module("net", tiny_model(o));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor y = (*net_)(x);
    return *poison_ ? y * std::nan("") : y;
  }

 private:
  std::shared_ptr<nn::Module> net_;
  const bool* poison_;
};

}  // namespace

TEST(Trainer, DivergenceKeepsTheLastGoodCheckpoint) {
  TempDir dir;
  bool poison = false;
  auto build = [&](const models::ModelOptions& o) { return std::make_shared<Poisonable>(o, &poison); };
  // Eager: the poison switch is C++ state outside the tensors, which a compiled graph bakes in
  // as it was when traced (Module::hybridize).
  TrainConfig config = tiny_config(dir.path());
  config.eager = true;
  Trainer trainer(config, fashion(), build);
  try {
    trainer.run({.on_epoch = [&](const EpochMetrics&) { poison = true; }});
    FAIL() << "expected TrainingDiverged";
  } catch (const TrainingDiverged& e) {
    EXPECT_EQ(std::string(e.what()),
              "loss became nan at epoch 2, batch 1: training diverged; try a smaller --lr. "
              "The last good checkpoint (epoch 1) is in " +
                  dir.path().string());
    EXPECT_EQ(e.epoch(), 2);
    EXPECT_EQ(e.batch(), 1);
  }
  poison = false;
  Trainer resumed = Trainer::resume(dir.path(), {}, fashion(), build);
  EXPECT_EQ(resumed.completed_epochs(), 1);
  EXPECT_EQ(csv_rows(read_text(resumed.files().metrics)).size(), 2u);
}

TEST(Trainer, RefusesToReplaceARunUnlessAskedTo) {
  TempDir dir;
  TrainConfig c = tiny_config(dir.path(), 64, 64);
  c.epochs = 1;
  Trainer(c, fashion(), tiny_model).run();
  ASSERT_TRUE(std::filesystem::exists(dir / "best.safetensors"));
  expect_error([&] { Trainer(c, fashion(), tiny_model); },
               dir.path().string() + " already holds a run (checkpoint.safetensors); continue it with --resume");
  c.overwrite = true;
  Trainer again(c, fashion(), tiny_model);
  EXPECT_FALSE(std::filesystem::exists(dir / "best.safetensors")) << "the old run's files are removed";
  EXPECT_FALSE(std::filesystem::exists(dir / "checkpoint.safetensors"));
}

TEST(Trainer, SetUpChecksTheModelAgainstTheData) {
  TempDir dir;
  TrainConfig c = TrainConfig::for_model("lenet");
  c.out_dir = dir.path();
  c.resize = 32;
  expect_error([&] { Trainer(c, fashion()); },
               "lenet cannot take 1x32x32 images: it stops at layer 7 (Linear) whose input is [1,576]");
  expect_error([&] { Trainer(c, fashion()); }, "resize the images to the size it was made for (--resize 28)");
  c = TrainConfig::for_model("resnet3d18");
  c.out_dir = dir.path();
  expect_error([&] { Trainer(c, fashion()); }, "resnet3d18 takes 3-D inputs such as [1,1,16,96,96]");
  c = tiny_config(dir.path());
  c.schedule = ScheduleKind::Step;
  EXPECT_EQ(Trainer(c, fashion(), tiny_model).config().step_epochs, 1) << "a third of 2 epochs, at least 1";
  c.data_dir = dir / "nowhere";
  expect_error([&] { Trainer(c, {}, tiny_model); }, "Fashion-MNIST not found in " + (dir / "nowhere").string());
  expect_error([&] { Trainer(c, {}, tiny_model); }, "install the Debian package dataset-fashion-mnist");
}
