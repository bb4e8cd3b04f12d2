// Writes the seed corpora of the fuzz harnesses: a handful of small valid inputs per reader (and
// a few refused ones, for the error paths), made with Strata's own writers where it has one and
// by hand where it has none. The result is committed under fuzz/corpus/<harness>/:
//   cmake --build build --target fuzz_make_corpus && build/fuzz/fuzz_make_corpus fuzz/corpus
// Every file is written again on each run (the output is the same every time); a harness's
// seeds that take a first byte of flags (idx, cifar, image) get it here, as the harness reads it.
#include <stb_image_write.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "fuzz_util.hpp"
#include "gzip.hpp"
#include "strata/data/dataset.hpp"
#include "strata/io.hpp"
#include "strata/nn.hpp"
#include "strata/onnx.hpp"
#include "strata/random.hpp"
#include "strata/train/config.hpp"
#include "train/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;
using namespace strata;

fs::path g_root;

fs::path dir_of(const std::string& harness) {
  const fs::path dir = g_root / harness;
  fs::create_directories(dir);
  return dir;
}

void put(const std::string& harness, const std::string& name, const std::string& bytes) {
  fuzz::write_file(dir_of(harness) / name, bytes);
}

std::string flagged(uint8_t flags, const std::string& bytes) { return std::string(1, char(flags)) + bytes; }

std::string le(uint64_t v, int bytes) {
  std::string s;
  for (int i = 0; i < bytes; ++i) s += char(v >> (8 * i));
  return s;
}

// ---- safetensors ----

// A file with the JSON `header` (padded with spaces to a multiple of 8 bytes) and `data`.
std::string safetensors_bytes(std::string header, const std::string& data) {
  header.append((8 - header.size() % 8) % 8, ' ');
  return le(header.size(), 8) + header + data;
}

void safetensors_seeds() {
  const fs::path dir = dir_of("safetensors");
  io::save_safetensors(dir / "f32_i64_f64.safetensors",
                       {{"a", from_data({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3})},
                        {"b", from_data(std::vector<int64_t>{7, 8, 9})},
                        {"c", from_data(std::vector<double>{0.5}, Shape{})}},
                       {{"format", "pt"}});
  io::save_safetensors(dir / "metadata_only.safetensors", {}, {{"strata.model", "lenet"}, {"k", "v"}});
  io::save_safetensors(dir / "zero_size.safetensors", {{"z", zeros({0, 3})}});
  // The dtypes Strata widens on load (F16, BF16 to F32; the narrow integers to I64).
  put("safetensors", "widened.safetensors",
      safetensors_bytes(R"({"h":{"dtype":"F16","shape":[2],"data_offsets":[0,4]},)"
                        R"("bf":{"dtype":"BF16","shape":[1,2],"data_offsets":[4,8]},)"
                        R"("u8":{"dtype":"U8","shape":[2],"data_offsets":[8,10]},)"
                        R"("i8":{"dtype":"I8","shape":[2],"data_offsets":[10,12]},)"
                        R"("i16":{"dtype":"I16","shape":[1],"data_offsets":[12,14]},)"
                        R"("u16":{"dtype":"U16","shape":[1],"data_offsets":[14,16]},)"
                        R"("i32":{"dtype":"I32","shape":[1],"data_offsets":[16,20]},)"
                        R"("u32":{"dtype":"U32","shape":[1],"data_offsets":[20,24]}})",
                        std::string("\x00\x3c\x00\xc0\x80\x3f\x00\x40\x01\xff\x80\x7f\xff\xff\xff\xff"
                                    "\xfe\xff\xff\xff\x01\x00\x00\x80",
                                    24)));
  put("safetensors", "bool_refused.safetensors",
      safetensors_bytes(R"({"__metadata__":{"a":"b"},"m":{"dtype":"BOOL","shape":[2],"data_offsets":[0,2]}})",
                        std::string("\x01\x00", 2)));
}

// ---- npy ----

// A .npy file of format `major`.0 with the dict `header` (padded to a multiple of 64 bytes).
std::string npy_bytes(int major, std::string header, const std::string& data) {
  const std::size_t prefix = major == 1 ? 10 : 12;
  header.append((64 - (prefix + header.size() + 1) % 64) % 64, ' ');
  header += '\n';
  return std::string("\x93NUMPY", 6) + char(major) + '\0' + le(header.size(), major == 1 ? 2 : 4) + header + data;
}

void npy_seeds() {
  const fs::path dir = dir_of("npy");
  io::save_npy(dir / "f32_2x3.npy", from_data({1.f, 2.f, 3.f, 4.f, 5.f, 6.f}, {2, 3}));
  io::save_npy(dir / "f64_scalar.npy", from_data(std::vector<double>{2.5}, Shape{}));
  io::save_npy(dir / "i64_5.npy", from_data(std::vector<int64_t>{1, -2, 3, -4, 5}));
  io::save_npy(dir / "f32_0x3.npy", zeros({0, 3}));
  put("npy", "v2_f16.npy", npy_bytes(2, "{'descr': '<f2', 'fortran_order': False, 'shape': (2,), }",
                                     std::string("\x00\x3c\x00\xc0", 4)));
  put("npy", "v3_u1_2x2.npy",
      npy_bytes(3, "{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }", "\x01\x02\x03\xff"));
  put("npy", "u4_1.npy", npy_bytes(1, "{'descr': '<u4', 'fortran_order': False, 'shape': (1,), }", le(7, 4)));
  put("npy", "fortran_refused.npy",
      npy_bytes(1, "{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }", le(0x3f800000, 4)));
  put("npy", "big_endian_refused.npy",
      npy_bytes(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", std::string("\x3f\x80\0\0", 4)));
}

// ---- checkpoint and config ----

train::WeightsInfo lenet_info() {
  train::WeightsInfo info;
  info.model = "lenet";
  info.input = {1, 28, 28};
  info.classes = data::fashion_mnist_class_names();
  info.dataset = "fashion-mnist";
  return info;
}

train::EpochMetrics epoch_metrics(int64_t epoch) {
  return {.epoch = epoch, .loss = 2.0 / epoch, .train_acc = 0.5, .test_acc = 0.4 + 0.1 * epoch,
          .examples_per_sec = 1000, .data_wait_sec = 0.01, .lr = 0.1, .seconds = 3};
}

void checkpoint_seeds() {
  const fs::path dir = dir_of("checkpoint");
  train::Checkpoint c;
  c.config = train::TrainConfig::for_model("lenet");
  c.config.out_dir = "runs/lenet";
  c.weights = lenet_info();
  c.epoch = 1;
  Generator gen(42);
  c.rng = gen.state();
  c.history = {epoch_metrics(1)};
  c.best_test_acc = 0.5;
  c.best_epoch = 1;
  c.model = {{"0.weight", from_data({0.5f, -0.5f, 0.25f, 1.f}, {2, 2})}, {"0.bias", zeros({2})}};
  c.optimizer = {{"step", from_data(std::vector<int64_t>{3})}};
  train::save_checkpoint(dir / "epoch1.safetensors", c);

  c.config.optimizer = train::OptimizerKind::Adam;
  c.config.normalize = true;
  c.config.mean = {0.25f};
  c.config.std = {0.5f};
  c.weights.mean = {0.25f};
  c.weights.std = {0.5f};
  c.epoch = 2;
  gen.next_u64();
  c.rng = gen.state();
  c.history.push_back(epoch_metrics(2));
  c.best_test_acc = 0.6;
  c.best_epoch = 2;
  c.optimizer = {{"0.weight.exp_avg", zeros({2, 2})}, {"0.weight.exp_avg_sq", zeros({2, 2})}};
  train::save_checkpoint(dir / "epoch2_adam_normalized.safetensors", c);
}

// Every config names its out_dir: validate() refuses one without.
void config_seeds() {
  train::TrainConfig c = train::TrainConfig::for_model("lenet");
  c.out_dir = "runs/lenet";
  put("config", "lenet.json", train::config_to_json(c));
  c = train::TrainConfig::for_model("resnet18");
  c.dataset = train::DatasetKind::Cifar10;
  c.optimizer = train::OptimizerKind::AdamW;
  c.weight_decay = 0.05;
  c.schedule = train::ScheduleKind::Cosine;
  c.warmup_epochs = 2;
  c.label_smoothing = 0.1;
  c.clip_grad_norm = 1.0;
  c.resize = 64;
  c.augment = true;
  c.normalize = true;
  c.mean = {0.49f, 0.48f, 0.45f};
  c.std = {0.25f, 0.24f, 0.26f};
  c.threads = 2;
  c.seed = 7;
  c.out_dir = "runs/resnet18";
  put("config", "resnet18_adamw_cosine.json", train::config_to_json(c));
  c = train::TrainConfig::for_model("lenet-bn");
  c.dataset = train::DatasetKind::Folder;
  c.data_dir = "data/flowers";
  c.folder_channels = 1;
  c.limit_train = 100;
  c.limit_test = 10;
  c.optimizer = train::OptimizerKind::Sgd;
  c.momentum = 0.9;
  c.nesterov = true;
  c.schedule = train::ScheduleKind::Step;
  c.step_epochs = 3;
  c.step_gamma = 0.5;
  c.shuffle = false;
  c.eager = true;
  c.init = "model.onnx";
  c.num_classes = 5;
  c.out_dir = "runs/flowers";
  c.overwrite = true;
  put("config", "folder_sgd_step_onnx_init.json", train::config_to_json(c));
  c = train::TrainConfig::for_model("lenet");
  c.schedule = train::ScheduleKind::OneCycle;
  c.dataset = train::DatasetKind::Mnist;
  c.out_dir = "runs/mnist";
  put("config", "mnist_onecycle.json", train::config_to_json(c));
  put("config", "empty_object_refused.json", "{}");
}

// ---- IDX and CIFAR-10 (flags: see idx.cpp and cifar.cpp) ----

std::string idx_bytes(const std::vector<uint32_t>& dims, const std::string& data) {
  std::string out("\0\0\x08", 3);
  out += char(dims.size());
  for (uint32_t d : dims)
    for (int shift : {24, 16, 8, 0}) out += char(d >> shift);
  return out + data;
}

std::string ramp(std::size_t n, int step) {
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s += char(i * step);
  return s;
}

void idx_seeds() {
  const std::string images = idx_bytes({2, 2, 2}, ramp(8, 31));
  const std::string labels = idx_bytes({2}, std::string("\x03\x09", 2));
  put("idx", "images_2x2x2.bin", flagged(0, images));
  put("idx", "images_2x2x2_gzipped.bin", flagged(1, images));
  put("idx", "labels_2.bin", flagged(2, labels));
  put("idx", "labels_2_gzipped.bin", flagged(3, labels));
  put("idx", "images_gzip_stream.bin", flagged(0, fuzz::gzip(images)));
  put("idx", "images_two_gzip_members.bin", flagged(0, fuzz::gzip(images.substr(0, 10)) + fuzz::gzip(images.substr(10))));
  put("idx", "images_3x4x5_count_mismatch.bin", flagged(0, idx_bytes({3, 4, 5}, ramp(60, 5))));
}

void cifar_seeds() {
  std::string record = std::string(1, '\x03') + ramp(3072, 7);
  std::string two = record + std::string(1, '\x09') + ramp(3072, 3);
  put("cifar", "test_1_record.bin", flagged(1, record));
  put("cifar", "train_1_record.bin", flagged(0, record));
  put("cifar", "test_gzipped_nested.bin", flagged(1 | 2 | 4, two));
  put("cifar", "train_gzipped.bin", flagged(2, record));
  put("cifar", "test_gzip_stream_2_records.bin", flagged(1, fuzz::gzip(two)));
}

// ---- Images (flags: see image.cpp) ----

void append(void* out, void* data, int size) { static_cast<std::string*>(out)->append(static_cast<char*>(data), size); }

std::string pixels(int w, int h, int comp) { return ramp(std::size_t(w) * h * comp, 37); }

void image_seeds() {
  auto png = [](int w, int h, int comp) {
    std::string out, px = pixels(w, h, comp);
    stbi_write_png_to_func(append, &out, w, h, comp, px.data(), w * comp);
    return out;
  };
  auto jpg = [](int w, int h, int comp) {
    std::string out, px = pixels(w, h, comp);
    stbi_write_jpg_to_func(append, &out, w, h, comp, px.data(), 90);
    return out;
  };
  auto bmp = [](int w, int h, int comp) {
    std::string out, px = pixels(w, h, comp);
    stbi_write_bmp_to_func(append, &out, w, h, comp, px.data());
    return out;
  };
  auto tga = [](int w, int h, int comp) {
    std::string out, px = pixels(w, h, comp);
    stbi_write_tga_to_func(append, &out, w, h, comp, px.data());
    return out;
  };
  put("image", "png_rgb_5x3_folder.bin", flagged(0, png(5, 3, 3)));
  put("image", "png_grey_4x4_folder_grey_resized.bin", flagged(4 | 16, png(4, 4, 1)));
  put("image", "png_rgba_3x3_predict.bin", flagged(8, png(3, 3, 4)));
  put("image", "jpg_rgb_8x8_folder.bin", flagged(1, jpg(8, 8, 3)));
  put("image", "jpeg_grey_9x7_predict_normalized.bin", flagged(2 | 8 | 16, jpg(9, 7, 1)));
  put("image", "bmp_rgb_4x3_folder.bin", flagged(3, bmp(4, 3, 3)));
  put("image", "bmp_rgba_2x2_predict_grey.bin", flagged(3 | 4 | 8, bmp(2, 2, 4)));
  put("image", "tga_rgb_3x2_folder_refused.bin", flagged(0, tga(3, 2, 3)));
  put("image", "ppm_2x2_predict_refused.bin", flagged(8, "P6\n2 2\n255\n" + pixels(2, 2, 3)));
}

// ---- ONNX ----

void onnx_seeds() {
  manual_seed(0);
  auto conv_net = [] {
    return nn::sequential({std::make_shared<nn::Conv2d>(1, 2, 3), std::make_shared<nn::BatchNorm2d>(2),
                           std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
                           std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(2 * 3 * 3, 3)});
  };
  put("onnx", "conv_bn_relu_pool_linear_opset17.onnx", onnx::to_bytes(*conv_net(), {1, 1, 8, 8}));
  put("onnx", "conv_bn_folded_dynamic_batch_opset13.onnx",
      onnx::to_bytes(*conv_net(), {1, 1, 8, 8}, {.opset = 13, .dynamic_batch = true, .fold_batch_norm = true}));
  auto mlp = nn::sequential({std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(16, 4),
                             std::make_shared<nn::Sigmoid>(), std::make_shared<nn::Dropout>(0.5),
                             std::make_shared<nn::Linear>(4, 2), std::make_shared<nn::Tanh>()});
  put("onnx", "mlp_sigmoid_tanh_opset15.onnx", onnx::to_bytes(*mlp, {1, 1, 4, 4}, {.opset = 15}));
  auto gap = nn::sequential({std::make_shared<nn::Conv2d>(3, 4, 1), std::make_shared<nn::ReLU6>(),
                             std::make_shared<nn::AvgPool2d>(2), std::make_shared<nn::AdaptiveAvgPool2d>(1),
                             std::make_shared<nn::Flatten>(), std::make_shared<nn::Linear>(4, 2)});
  put("onnx", "conv_relu6_avgpool_gap_metadata.onnx",
      onnx::to_bytes(*gap, {1, 3, 6, 6}, {.model_name = "gap", .metadata = {{"classes", "[\"a\",\"b\"]"}}}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR (fuzz/corpus)\n", argv[0]);
    return 2;
  }
  g_root = argv[1];
  safetensors_seeds();
  npy_seeds();
  checkpoint_seeds();
  config_seeds();
  idx_seeds();
  cifar_seeds();
  image_seeds();
  onnx_seeds();
  std::printf("seed corpora written under %s\n", g_root.c_str());
  return 0;
}
