// TrainConfig: the book's recipes, validation messages and the config.json round trip.
#include <cmath>

#include "train_util.hpp"

using namespace strata;
using namespace strata::train;
using strata::test::expect_error;

TEST(TrainConfig, ForModelTakesTheBookRecipe) {
  const TrainConfig lenet = TrainConfig::for_model("lenet");
  EXPECT_EQ(lenet.model, "lenet");
  EXPECT_EQ(lenet.lr, 0.9);
  EXPECT_EQ(lenet.batch_size, 256);
  EXPECT_EQ(lenet.epochs, 10);
  EXPECT_EQ(lenet.resize, 28);
  EXPECT_EQ(lenet.optimizer, OptimizerKind::Sgd);
  EXPECT_EQ(lenet.momentum, 0.0);
  EXPECT_FALSE(lenet.augment);
  const TrainConfig resnet = TrainConfig::for_model("resnet18");
  EXPECT_EQ(resnet.lr, 0.05);
  EXPECT_EQ(resnet.resize, 96);
  expect_error([] { TrainConfig::for_model("lenet6"); }, "unknown model 'lenet6'; the zoo has: lenet, lenet-bn");
}

TEST(TrainConfig, NamesParseBack) {
  for (auto k : {DatasetKind::FashionMnist, DatasetKind::Mnist, DatasetKind::Cifar10, DatasetKind::Folder})
    EXPECT_EQ(parse_dataset(dataset_name(k)), k);
  for (auto k : {OptimizerKind::Sgd, OptimizerKind::Adam, OptimizerKind::AdamW})
    EXPECT_EQ(parse_optimizer(optimizer_name(k)), k);
  for (auto k : {ScheduleKind::Constant, ScheduleKind::Step, ScheduleKind::Cosine, ScheduleKind::OneCycle})
    EXPECT_EQ(parse_schedule(schedule_name(k)), k);
  expect_error([] { parse_optimizer("rmsprop"); }, "unknown optimizer 'rmsprop'; choose one of: sgd, adam, adamw");
  expect_error([] { parse_schedule("linear"); }, "choose one of: constant, step, cosine, onecycle");
}

TEST(TrainConfig, JsonRoundTripIsExact) {
  TrainConfig c = TrainConfig::for_model("lenet-bn");
  c.dataset = DatasetKind::Folder;
  c.data_dir = "/data/my images";
  c.folder_channels = 1;
  c.limit_train = 1000;
  c.limit_test = 300;
  c.val_split = 0.25;
  c.lr = 0.1 + 1e-17;  // not representable in few digits
  c.momentum = 0.9;
  c.nesterov = true;
  c.weight_decay = 5e-4;
  c.schedule = ScheduleKind::Cosine;
  c.warmup_epochs = 2;
  c.label_smoothing = 0.1;
  c.clip_grad_norm = 5.0;
  c.augment = true;
  c.crop_padding = 2;
  c.normalize = true;
  c.mean = {0.2860406f};
  c.std = {0.3530242f};
  c.shuffle = false;
  c.threads = 3;
  c.seed = 18446744073709551615ULL;  // beyond what a JSON double holds exactly
  c.init = "w.safetensors";
  c.out_dir = "runs/x";
  c.overwrite = true;
  const std::string json = config_to_json(c);
  EXPECT_NE(json.find("\"schedule\": \"cosine\""), std::string::npos) << json;
  EXPECT_NE(json.find("\"seed\": \"18446744073709551615\""), std::string::npos) << json;
  EXPECT_EQ(config_from_json(json), c);
}

TEST(TrainConfig, FromJsonKeepsDefaultsForMissingFieldsAndRefusesUnknownOnes) {
  const TrainConfig c = config_from_json(R"({"model": "lenet", "out_dir": "o", "epochs": 3})");
  EXPECT_EQ(c.epochs, 3);
  EXPECT_EQ(c.batch_size, TrainConfig{}.batch_size);
  expect_error([] { config_from_json(R"({"model": "lenet", "out_dir": "o", "epoch": 3})"); },
               "config: unknown field 'epoch'");
  expect_error([] { config_from_json(R"({"model": "lenet", "out_dir": "o", "lr": "fast"})"); },
               "config: 'lr' must be a number, got \"fast\"");
  expect_error([] { config_from_json(R"({"model": "lenet", "out_dir": "o", "epochs": 2.5})"); },
               "config: 'epochs' must be a whole number, got 2.5");
  expect_error([] { config_from_json(R"({"model": "lenet", "out_dir": "o", "seed": "-1"})"); },
               "'seed' must be a whole number >= 0");
  expect_error([] { config_from_json("[1, 2"); }, "config: the text is not valid JSON");
  // Issue 22: nesting is bounded before anything deep is built or printed.
  expect_error([] { config_from_json(R"({"model": )" + std::string(100'000, '[') + std::string(100'000, ']') + "}"); },
               "config: the text nests objects and lists deeper than 128 levels");
  expect_error([] { config_from_json(R"({"model": "lenet", "model": "nin"})"); },
               "config: the text has the key 'model' twice in one object");
  expect_error([] { config_from_json(R"({"model": "lenet", "out_dir": "o", "optimizer": "lbfgs"})"); },
               "unknown optimizer 'lbfgs'");
}

TEST(TrainConfig, ValidateNamesTheField) {
  auto bad = [](auto change, const std::string& fragment) {
    TrainConfig c = TrainConfig::for_model("lenet");
    c.out_dir = "o";
    change(c);
    expect_error([&] { validate(c); }, fragment);
  };
  bad([](TrainConfig& c) { c.epochs = 0; }, "train: epochs must be in [1, 100000], got 0");
  bad([](TrainConfig& c) { c.batch_size = 1 << 20; }, "train: batch_size must be in [1, 65536]");
  bad([](TrainConfig& c) { c.lr = -1; }, "train: lr must be a positive number, got -1");
  bad([](TrainConfig& c) { c.lr = std::nan(""); }, "train: lr must be a positive number");
  bad([](TrainConfig& c) { c.momentum = 1.0; }, "train: momentum must be in [0, 1)");
  bad([](TrainConfig& c) { c.nesterov = true; }, "nesterov needs momentum > 0");
  bad(
      [](TrainConfig& c) {
        c.optimizer = OptimizerKind::Adam;
        c.momentum = 0.9;
      },
      "momentum and nesterov apply to sgd only; adam has its own");
  bad([](TrainConfig& c) { c.warmup_epochs = 10; }, "warmup_epochs must be in [0, epochs = 10), got 10");
  bad([](TrainConfig& c) { c.warmup_epochs = 1; }, "warmup_epochs applies to the cosine schedule only, not constant");
  bad([](TrainConfig& c) { c.label_smoothing = 1.0; }, "label_smoothing must be in [0, 1)");
  bad([](TrainConfig& c) { c.resize = 100000; }, "resize must be in [0, 2048]");
  bad([](TrainConfig& c) { c.mean = {0.5f}; }, "mean has 1 entries but std has 0");
  bad(
      [](TrainConfig& c) {
        c.mean = {0.5f};
        c.std = {0.5f};
      },
      "mean and std are given but normalize is off");
  bad(
      [](TrainConfig& c) {
        c.normalize = true;
        c.mean = {0.5f};
        c.std = {0.0f};
      },
      "channel 0 has mean 0.5 and std 0");
  bad([](TrainConfig& c) { c.out_dir.clear(); }, "no output directory given");
  bad([](TrainConfig& c) { c.folder_channels = 2; }, "folder_channels must be 1 (grey) or 3 (RGB), got 2");
}
