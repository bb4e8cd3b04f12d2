// Weights files with metadata, image and .npy inputs, and top-k.
#include <stb_image_write.h>

#include <cmath>

#include "train_util.hpp"

using namespace strata;
using namespace strata::train;
using strata::test::expect_error;
using strata::test::fashion;
using strata::test::TempDir;

namespace {

WeightsInfo fashion_info(const std::string& model) {
  return {model, {1, 28, 28}, data::fashion_mnist_class_names(), "fashion-mnist", {}, {}, ""};
}

// An initialised zoo model saved with Strata metadata.
std::filesystem::path save_model(const TempDir& dir, const std::string& name, const WeightsInfo& info) {
  auto model = models::build(info.model);
  models::init_book(*model);
  const std::filesystem::path path = dir / name;
  nn::save_weights(*model, path, to_metadata(info));
  return path;
}

void write_grey_png(const std::filesystem::path& path, int w, int h, const std::vector<uint8_t>& pixels) {
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, 1, pixels.data(), w)) << path;
}

std::vector<uint8_t> fashion_image(int64_t i) {
  const std::vector<uint8_t> img = fashion().test->get(i).image.pixels;
  return {img.begin(), img.end()};
}

}  // namespace

TEST(ModelFile, MetadataRoundTripAndLoad) {
  TempDir dir;
  WeightsInfo info = fashion_info("lenet-bn");
  info.mean = {0.25f};
  info.std = {0.5f};
  const io::Metadata m = to_metadata(info);
  EXPECT_EQ(m.at("strata.model"), "lenet-bn");
  EXPECT_EQ(m.at("strata.input"), "1,28,28");
  EXPECT_EQ(m.at("strata.classes").substr(0, 24), "[\"T-shirt/top\",\"Trouser\"");
  EXPECT_EQ(m.at("strata.normalize"), "{\"mean\":[0.25],\"std\":[0.5]}");
  const auto path = save_model(dir, "w.safetensors", info);
  const LoadedModel loaded = load_model(path);
  EXPECT_EQ(loaded.info.model, "lenet-bn");
  EXPECT_EQ(loaded.info.input, Shape({1, 28, 28}));
  EXPECT_EQ(loaded.info.classes, data::fashion_mnist_class_names());
  EXPECT_EQ(loaded.info.mean, std::vector<float>{0.25f});
  EXPECT_FALSE(loaded.module->is_training());
  EXPECT_EQ(loaded.module->state_dict().size(), io::load_safetensors(path).tensors.size());
}

TEST(ModelFile, WrongFilesAreClearErrors) {
  TempDir dir;
  // Weights without metadata (as from PyTorch): need --model, then load with the zoo defaults.
  auto lenet = models::build("lenet");
  nn::save_weights(*lenet, dir / "plain.safetensors");
  expect_error([&] { load_model(dir / "plain.safetensors"); },
               "has no strata.model metadata (not written by Strata?); name its architecture with --model NAME");
  const LoadedModel plain = load_model(dir / "plain.safetensors", "lenet");
  EXPECT_EQ(plain.info.input, Shape({1, 28, 28}));
  EXPECT_EQ(plain.info.classes.size(), 10u);
  // Another architecture: the mismatching names.
  expect_error([&] { load_model(dir / "plain.safetensors", "lenet-bn"); }, "missing keys (");
  expect_error([&] { load_model(dir / "plain.safetensors", "lenet-bn"); }, "1.running_mean");
  expect_error([&] { load_model(dir / "plain.safetensors", "alexnet9"); }, "unknown model 'alexnet9'");
  // Malformed metadata.
  io::Metadata m = to_metadata(fashion_info("lenet"));
  m["strata.input"] = "1,28";
  io::save_safetensors(dir / "bad_input.safetensors", lenet->state_dict(), m);
  expect_error([&] { load_model(dir / "bad_input.safetensors"); }, "strata.input must be C,H,W or C,D,H,W");
  m = to_metadata(fashion_info("lenet"));
  m["strata.classes"] = "[1, 2]";
  io::save_safetensors(dir / "bad_classes.safetensors", lenet->state_dict(), m);
  expect_error([&] { load_model(dir / "bad_classes.safetensors"); }, "strata.classes must be a non-empty JSON list");
  m = to_metadata(fashion_info("lenet"));
  m["strata.checkpoint.version"] = "1";
  io::save_safetensors(dir / "checkpoint.safetensors", lenet->state_dict(), m);
  expect_error([&] { load_model(dir / "checkpoint.safetensors"); }, "is a training checkpoint, not a weights file");
  expect_error([&] { load_model(dir / "missing.safetensors"); }, "missing.safetensors");
}

TEST(Predict, ImageInputsAreScaledResizedAndNormalisedAsInTraining) {
  TempDir dir;
  // A 28 x 28 test image as PNG gives exactly the loader's input.
  write_grey_png(dir / "shoe.png", 28, 28, fashion_image(0));
  WeightsInfo info = fashion_info("lenet");
  const Tensor x = load_input(dir / "shoe.png", info);
  ASSERT_EQ(x.shape(), Shape({1, 1, 28, 28}));
  const data::DataLoader loader(fashion().test, {.batch_size = 1, .limit = 1, .prefetch = 0});
  const Tensor expected = loader.epoch(0).next()->images;
  EXPECT_EQ(x.to_vector<float>(), expected.to_vector<float>());

  // A 56 x 56 image is resized bilinearly after scaling; mean/std normalise.
  std::vector<uint8_t> big(56 * 56);
  for (std::size_t i = 0; i < big.size(); ++i) big[i] = static_cast<uint8_t>((i * 7) % 256);
  write_grey_png(dir / "big.png", 56, 56, big);
  info.mean = {0.5f};
  info.std = {0.25f};
  const Tensor y = load_input(dir / "big.png", info);
  const Tensor want =
      data::normalize(data::resize_bilinear(data::to_float(big, {1, 1, 56, 56}), 28, 28), {0.5f}, {0.25f});
  strata::test::expect_close(y, want, 1e-6);

  // An RGB image converts to the model's one channel.
  std::vector<uint8_t> rgb(10 * 12 * 3, 255);
  ASSERT_TRUE(stbi_write_png((dir / "white.png").c_str(), 10, 12, 3, rgb.data(), 30));
  const Tensor white = load_input(dir / "white.png", fashion_info("lenet"));
  EXPECT_EQ(white.shape(), Shape({1, 1, 28, 28}));
  for (float v : white.to_vector<float>()) EXPECT_FLOAT_EQ(v, 1.0f);
}

TEST(Predict, BadImagesNameTheFile) {
  TempDir dir;
  const WeightsInfo info = fashion_info("lenet");
  expect_error([&] { load_input(dir / "none.png", info); },
               "'" + (dir / "none.png").string() + "': no such image file");
  strata::test::write_file(dir / "text.png", {'h', 'e', 'l', 'l', 'o'});
  expect_error([&] { load_input(dir / "text.png", info); },
               "'" + (dir / "text.png").string() + "': not a PNG, JPEG or BMP file (Strata reads these three)");
  // Images of no pixels (a BMP declaring a zero width or height) are an error, not a crash.
  for (const auto& [w, h] : {std::pair{2, 0}, std::pair{0, 2}}) {
    strata::test::write_file(dir / "empty.bmp", strata::test::bmp_declaring(w, h));
    expect_error([&] { load_input(dir / "empty.bmp", info); },
                 detail::cat("'", (dir / "empty.bmp").string(), "': the image is ", w, "x", h,
                             " pixels: it holds no pixels; give a PNG, JPEG or BMP file"));
  }
  WeightsInfo volume = info;
  volume.model = "resnet3d18";
  volume.input = {1, 16, 96, 96};
  write_grey_png(dir / "ok.png", 28, 28, fashion_image(1));
  expect_error([&] { load_input(dir / "ok.png", volume); }, "resnet3d18 takes 3-D inputs ([1,16,96,96]), not images");
}

TEST(Predict, NpyBatchesAreCheckedAgainstTheInputShape) {
  TempDir dir;
  const WeightsInfo info = fashion_info("lenet");
  const Tensor batch = strata::test::random({3, 1, 28, 28}, 1, DType::F32, 0.0, 1.0);
  io::save_npy(dir / "batch.npy", batch);
  EXPECT_EQ(load_input(dir / "batch.npy", info).to_vector<float>(), batch.to_vector<float>());
  io::save_npy(dir / "one.npy", batch.slice(0, 0, 1).squeeze(0).contiguous());
  EXPECT_EQ(load_input(dir / "one.npy", info).shape(), Shape({1, 1, 28, 28}));
  io::save_npy(dir / "f64.npy", batch.to(DType::F64));
  EXPECT_EQ(load_input(dir / "f64.npy", info).dtype(), DType::F32);
  io::save_npy(dir / "rgb.npy", strata::test::random({2, 3, 28, 28}, 2, DType::F32));
  expect_error([&] { load_input(dir / "rgb.npy", info); },
               "has shape [2,3,28,28] but lenet takes inputs of shape [N,1,28,28]");
  io::save_npy(dir / "ints.npy", zeros({2, 1, 28, 28}, DType::I64));
  expect_error([&] { load_input(dir / "ints.npy", info); }, "holds i64 values; predict takes float32 inputs");
}

TEST(Predict, LogitsAndTopK) {
  TempDir dir;
  const LoadedModel loaded = load_model(save_model(dir, "w.safetensors", fashion_info("lenet")));
  const Tensor inputs = strata::test::random({5, 1, 28, 28}, 3, DType::F32, 0.0, 1.0);
  const Tensor logits = predict_logits(*loaded.module, inputs, 2);  // batches of 2, 2 and 1
  ASSERT_EQ(logits.shape(), Shape({5, 10}));
  NoGradGuard no_grad;
  strata::test::expect_close(logits, (*loaded.module)(inputs), 1e-6);

  const Tensor l = from_data({1.0f, 3.0f, 2.0f, 0.0f, 0.0f, 0.0f}, {2, 3});
  const auto top = top_k(l, 2, {"a", "b", "c"});
  ASSERT_EQ(top.size(), 2u);
  const double z = std::exp(1.0) + std::exp(3.0) + std::exp(2.0);
  EXPECT_EQ(top[0][0].name, "b");
  EXPECT_NEAR(top[0][0].probability, std::exp(3.0) / z, 1e-12);
  EXPECT_EQ(top[0][1].index, 2);
  EXPECT_NEAR(top[0][1].probability, std::exp(2.0) / z, 1e-12);
  EXPECT_EQ(top[1][0].index, 0) << "ties: the lower index first";
  EXPECT_EQ(top[1][1].index, 1);
  EXPECT_NEAR(top[1][0].probability, 1.0 / 3.0, 1e-12);
  EXPECT_EQ(top_k(l, 10, {"a", "b", "c"})[0].size(), 3u) << "k is capped at the number of classes";
  expect_error([&] { top_k(l, 1, {"a", "b"}); }, "top_k: 3 logits per row but 2 class names");
}
