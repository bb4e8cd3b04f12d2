// The datasets, statistics and transforms of a training run; a run on an image folder.
#include <stb_image_write.h>

#include <cmath>

#include "train_util.hpp"

using namespace strata;
using namespace strata::train;
using strata::test::expect_error;
using strata::test::TempDir;

TEST(TrainData, ChannelStatsAreThePixelMeanAndStdScaledToOne) {
  data::ImageDataset ds;
  ds.channels = 2;
  ds.height = 1;
  ds.width = 2;
  ds.class_names = {"only"};
  // Image 0: channel 0 = {0, 255}, channel 1 = {51, 51}; image 1: {255, 255}, {51, 51}.
  ds.pixels = {0, 255, 51, 51, 255, 255, 51, 51};
  ds.labels = {0, 0};
  const ChannelStats all = channel_stats(ds);
  ASSERT_EQ(all.mean.size(), 2u);
  EXPECT_FLOAT_EQ(all.mean[0], 0.75f);
  EXPECT_FLOAT_EQ(all.std[0], static_cast<float>(std::sqrt(0.75 - 0.5625)));  // population std of {0,1,1,1}
  EXPECT_FLOAT_EQ(all.mean[1], 0.2f);
  EXPECT_FLOAT_EQ(all.std[1], 1.0f) << "a constant channel keeps std 1";
  const ChannelStats first = channel_stats(ds, 1);
  EXPECT_FLOAT_EQ(first.mean[0], 0.5f);
  EXPECT_FLOAT_EQ(first.std[0], 0.5f);
}

TEST(TrainData, TransformsAugmentOnlyTheTrainingSplit) {
  TrainConfig c = TrainConfig::for_model("resnet18");
  c.augment = true;
  c.crop_padding = 3;
  c.normalize = true;
  c.mean = {0.5f};
  c.std = {0.25f};
  const data::Transform train = make_transform(c, true), test = make_transform(c, false);
  EXPECT_EQ(train.crop_padding, 3);
  EXPECT_EQ(train.flip_probability, 0.5);
  EXPECT_EQ(test.crop_padding, 0);
  EXPECT_EQ(test.flip_probability, 0.0);
  for (const data::Transform& t : {train, test}) {
    EXPECT_EQ(t.resize_height, 96);
    EXPECT_EQ(t.resize_width, 96);
    EXPECT_EQ(t.mean, std::vector<float>{0.5f});
    EXPECT_EQ(t.std, std::vector<float>{0.25f});
  }
}

namespace {

// DIR/<split>/{bright,dark}/<i>.png: 12 x 12 grey images, bright ones in [190, 250], dark ones in
// [0, 60], with a little texture.
void write_folder_dataset(const std::filesystem::path& dir, const char* split, int per_class) {
  for (const char* cls : {"bright", "dark"}) {
    std::filesystem::create_directories(dir / split / cls);
    for (int i = 0; i < per_class; ++i) {
      std::vector<uint8_t> px(144);
      for (std::size_t k = 0; k < px.size(); ++k)
        px[k] = static_cast<uint8_t>((cls[0] == 'b' ? 190 : 0) + (k * 7 + static_cast<std::size_t>(i) * 13) % 61);
      const auto path = dir / split / cls / (std::to_string(i) + ".png");
      ASSERT_TRUE(stbi_write_png(path.c_str(), 12, 12, 1, px.data(), 12));
    }
  }
}

}  // namespace

TEST(TrainData, TrainsOnAnImageFolder) {
  TempDir dir;
  write_folder_dataset(dir / "data", "train", 24);
  write_folder_dataset(dir / "data", "test", 10);
  TrainConfig c = strata::test::tiny_config(dir / "run", 0, 0);
  c.dataset = DatasetKind::Folder;
  c.data_dir = dir / "data";
  c.folder_channels = 1;
  c.resize = 28;  // the tiny model's input; the folder is resized as it loads
  c.epochs = 3;
  c.batch_size = 8;
  Trainer trainer(c, {}, strata::test::tiny_model);
  EXPECT_EQ(trainer.train_size(), 48);
  EXPECT_EQ(trainer.test_size(), 20);
  EXPECT_EQ(trainer.data().train->class_names(), (std::vector<std::string>{"bright", "dark"}));
  EXPECT_EQ(trainer.input_shape(), Shape({1, 28, 28}));
  const TrainResult r = trainer.run();
  EXPECT_GE(r.test_acc, 0.9) << "brightness separates the classes";
  EXPECT_EQ(io::read_safetensors_metadata(trainer.files().model).at("strata.classes"), "[\"bright\",\"dark\"]");

  c.data_dir.clear();
  expect_error([&] { load_data(c); }, "the folder dataset needs --data DIR holding DIR/train/<class>/<image>");
  c.data_dir = dir / "run";
  expect_error([&] { load_data(c); }, "image folder " + (dir / "run" / "train").string() + " not found");
}
