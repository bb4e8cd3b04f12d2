// Resuming: an interrupted run, continued from its checkpoint, ends bit for bit where the
// uninterrupted run ends.
#include "train_util.hpp"

using namespace strata;
using namespace strata::train;
using strata::test::expect_bitwise_equal;
using strata::test::expect_error;
using strata::test::fashion;
using strata::test::short_recipe;
using strata::test::TempDir;
using strata::test::tiny_config;
using strata::test::tiny_model;

namespace {

struct Interrupted : std::runtime_error {
  Interrupted() : std::runtime_error("interrupted") {}
};

// Runs `config` until the callback interrupts it (as a kill would), then resumes it to the end.
Trainer interrupted_then_resumed(const TrainConfig& config, const TrainCallbacks& interrupt,
                                 const ModelBuilder& build = {}) {
  Trainer first(config, fashion(), build);
  EXPECT_THROW(first.run(interrupt), Interrupted);
  Trainer resumed = Trainer::resume(config.out_dir, {}, fashion(), build);
  resumed.run();
  return resumed;
}

void expect_same_history(const std::vector<EpochMetrics>& a, const std::vector<EpochMetrics>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t e = 0; e < a.size(); ++e) {
    EXPECT_EQ(a[e].epoch, b[e].epoch);
    EXPECT_EQ(a[e].loss, b[e].loss) << "epoch " << e + 1;
    EXPECT_EQ(a[e].train_acc, b[e].train_acc) << "epoch " << e + 1;
    EXPECT_EQ(a[e].test_acc, b[e].test_acc) << "epoch " << e + 1;
    EXPECT_EQ(a[e].lr, b[e].lr) << "epoch " << e + 1;
  }
}

}  // namespace

// lenet-bn (batch-norm running statistics), SGD with Nesterov momentum, cosine warm-up and
// augmentation, killed after its first epoch.
TEST(Resume, LenetBnAfterTheFirstEpochEndsBitIdentical) {
  TempDir dir;
  TrainConfig c = short_recipe("lenet-bn", dir / "straight", 512, 128, 2);
  c.batch_size = 64;
  c.lr = 0.5;
  c.momentum = 0.9;
  c.nesterov = true;
  c.schedule = ScheduleKind::Cosine;
  c.warmup_epochs = 1;
  c.augment = true;
  c.crop_padding = 2;
  Trainer straight(c, fashion());
  straight.run();

  c.out_dir = dir / "interrupted";
  Trainer resumed = interrupted_then_resumed(c, {.on_epoch = [](const EpochMetrics& m) {
                                               if (m.epoch == 1) throw Interrupted();
                                             }});
  expect_bitwise_equal(resumed.model().state_dict(), straight.model().state_dict());
  expect_same_history(resumed.history(), straight.history());
  // The checkpoints agree too: optimizer state included.
  expect_bitwise_equal(io::load_safetensors(resumed.files().checkpoint).tensors,
                       io::load_safetensors(straight.files().checkpoint).tensors);
}

// A model with dropout (which draws from the default generator), AdamW, one-cycle, label
// smoothing, clipping and augmentation, killed in the middle of its second epoch.
TEST(Resume, DropoutModelKilledMidEpochEndsBitIdentical) {
  TempDir dir;
  TrainConfig c = tiny_config(dir / "straight");
  c.epochs = 3;
  c.optimizer = OptimizerKind::AdamW;
  c.lr = 0.01;
  c.weight_decay = 0.05;
  c.schedule = ScheduleKind::OneCycle;
  c.label_smoothing = 0.1;
  c.clip_grad_norm = 1.0;
  c.augment = true;
  c.normalize = true;
  c.seed = 7;
  Trainer straight(c, fashion(), tiny_model);
  straight.run();

  c.out_dir = dir / "interrupted";
  Trainer first(c, fashion(), tiny_model);
  EXPECT_THROW(first.run({.on_batch =
                              [](const BatchProgress& p) {
                                if (p.epoch == 2 && p.batch == 5) throw Interrupted();
                              }}),
               Interrupted);
  // A second copy of the interrupted run, to show the test notices a lost generator state.
  std::filesystem::copy(dir / "interrupted", dir / "copy");

  Trainer resumed = Trainer::resume(dir / "interrupted", {}, fashion(), tiny_model);
  EXPECT_EQ(resumed.completed_epochs(), 1);
  resumed.run();
  expect_bitwise_equal(resumed.model().state_dict(), straight.model().state_dict());
  expect_same_history(resumed.history(), straight.history());

  Trainer reseeded = Trainer::resume(dir / "copy", {}, fashion(), tiny_model);
  manual_seed(12345);  // dropout now draws other masks than the uninterrupted run did
  reseeded.run();
  EXPECT_NE(reseeded.model().state_dict()[0].second.to_vector<float>(),
            straight.model().state_dict()[0].second.to_vector<float>());
}

TEST(Resume, MoreEpochsExtendAFinishedRun) {
  TempDir dir;
  TrainConfig c = tiny_config(dir / "three", 256, 64);
  c.epochs = 3;
  Trainer three(c, fashion(), tiny_model);
  three.run();

  c.epochs = 2;
  c.out_dir = dir / "two";
  Trainer(c, fashion(), tiny_model).run();
  Trainer nothing_left = Trainer::resume(dir / "two", {}, fashion(), tiny_model);
  EXPECT_EQ(nothing_left.run().history.size(), 2u);
  Trainer extended = Trainer::resume(dir / "two", {.epochs = 3}, fashion(), tiny_model);
  EXPECT_EQ(extended.config().epochs, 3);
  const TrainResult r = extended.run();
  EXPECT_EQ(r.history.size(), 3u);
  expect_bitwise_equal(extended.model().state_dict(), three.model().state_dict());
  expect_error([&] { Trainer::resume(dir / "two", {.epochs = 1}, fashion(), tiny_model); },
               "has already trained 3 epochs; --epochs 1 would be fewer");
}

TEST(Resume, ProblemsWithTheCheckpointAreClearErrors) {
  TempDir dir;
  expect_error([&] { Trainer::resume(dir / "nothing", {}, fashion(), tiny_model); },
               "checkpoint '" + (dir / "nothing" / "checkpoint.safetensors").string() +
                   "': not found; --resume takes the output directory of a run that finished at least one epoch");
  // A weights file is not a checkpoint.
  auto model = tiny_model({});
  std::filesystem::create_directories(dir / "weights");
  nn::save_weights(*model, dir / "weights" / "checkpoint.safetensors");
  expect_error([&] { Trainer::resume(dir / "weights", {}, fashion(), tiny_model); },
               "has no strata.checkpoint.version metadata; it is not a Strata training checkpoint");
  // A checkpoint of another architecture.
  TrainConfig c = tiny_config(dir / "run", 64, 64);
  c.epochs = 1;
  Trainer(c, fashion(), tiny_model).run();
  expect_error([&] { Trainer::resume(dir / "run", {}, fashion(), {}); }, "unknown model 'tiny'");
  auto wider = [](const models::ModelOptions& o) {
    return nn::sequential({std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(784, o.num_classes)});
  };
  expect_error([&] { Trainer::resume(dir / "run", {}, fashion(), wider); }, "does not fit tiny: load_state_dict");
  // A truncated checkpoint.
  const auto size = std::filesystem::file_size(dir / "run" / "checkpoint.safetensors");
  std::filesystem::resize_file(dir / "run" / "checkpoint.safetensors", size / 2);
  expect_error([&] { Trainer::resume(dir / "run", {}, fashion(), tiny_model); }, "checkpoint.safetensors");
}
