// Helpers of the training tests: the Fashion-MNIST location, a tiny model with dropout, small
// configs, bitwise comparison of model states and running the strata binary.
#pragma once

#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "common/test_util.hpp"
#include "data/files.hpp"
#include "strata/train.hpp"

namespace strata::test {

// Fashion-MNIST as Debian's dataset-fashion-mnist installs it (a dependency: make deps).
inline std::filesystem::path fashion_dir() {
  const std::filesystem::path dir = data::default_data_dir("fashion-mnist");
  if (!std::filesystem::exists(dir / "train-images-idx3-ubyte.gz") &&
      !std::filesystem::exists(dir / "train-images-idx3-ubyte"))
    ADD_FAILURE() << "Fashion-MNIST is not in " << dir << "; install dataset-fashion-mnist (make deps)";
  return dir;
}

// Loaded once per test program run (each test case runs in its own process under CTest).
inline const train::TrainData& fashion() {
  static const train::TrainData data = [] {
    train::TrainConfig c;
    c.data_dir = fashion_dir();
    return train::load_data(c);
  }();
  return data;
}

// 1x28x28 -> Conv(1,4,3,s=2,p=1) 4x14x14 -> ReLU -> MaxPool(2) 4x7x7 -> Flatten -> Dropout(0.5)
// -> Linear(196, classes): trains at thousands of images per second even on reference kernels.
inline std::shared_ptr<nn::Module> tiny_model(const models::ModelOptions& o) {
  return nn::sequential({std::make_shared<nn::Conv2d>(o.in_channels, 4, 3, ConvOptions{.stride = 2, .padding = 1}),
                         std::make_shared<nn::ReLU>(), std::make_shared<nn::MaxPool2d>(2),
                         std::make_shared<nn::Flatten>(), std::make_shared<nn::Dropout>(0.5),
                         std::make_shared<nn::Linear>(4 * 7 * 7, o.num_classes)});
}

// A Fashion-MNIST-shaped dataset of `train` training and `test` test images (raw IDX files, fixed
// pixels and labels): `strata train --data DIR` on it takes a fraction of a second.
inline void write_tiny_fashion_mnist(const std::filesystem::path& dir, uint32_t train, uint32_t test) {
  auto images = [](uint32_t n, uint32_t salt) {
    Bytes pixels(n * 28 * 28);
    for (uint32_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37 + salt * (i / 784)) % 251);
    return idx_file({n, 28, 28}, pixels);
  };
  auto labels = [](uint32_t n) {
    Bytes y(n);
    for (uint32_t i = 0; i < n; ++i) y[i] = static_cast<uint8_t>((i * 7) % 10);
    return idx_file({n}, y);
  };
  write_file(dir / "train-images-idx3-ubyte", images(train, 3));
  write_file(dir / "train-labels-idx1-ubyte", labels(train));
  write_file(dir / "t10k-images-idx3-ubyte", images(test, 5));
  write_file(dir / "t10k-labels-idx1-ubyte", labels(test));
}

// A config for the tiny model: `train` / `test` images, batch 32, one thread (its ops are too
// small to gain from more, and CTest runs tests side by side).
inline train::TrainConfig tiny_config(const std::filesystem::path& out, int64_t train = 512, int64_t test = 256) {
  train::TrainConfig c;
  c.model = "tiny";
  c.threads = 1;
  c.epochs = 2;
  c.batch_size = 32;
  c.lr = 0.1;
  c.limit_train = train;
  c.limit_test = test;
  c.out_dir = out;
  return c;
}

// A zoo model's book recipe cut short for a test: `epochs` epochs of the first `train` training
// and `test` test images, one thread (CTest runs two tests at once on two cores), writing `out`.
inline train::TrainConfig short_recipe(const std::string& model, const std::filesystem::path& out, int64_t train,
                                       int64_t test, int64_t epochs = 1) {
  train::TrainConfig c = train::TrainConfig::for_model(model);
  c.epochs = epochs;
  c.limit_train = train;
  c.limit_test = test;
  c.threads = 1;
  c.out_dir = out;
  return c;
}

// Expects two sets of named tensors (in any order) to hold the same names and bit-identical values.
inline void expect_bitwise_equal(nn::NamedTensors a, nn::NamedTensors b) {
  auto by_name = [](const auto& x, const auto& y) { return x.first < y.first; };
  std::sort(a.begin(), a.end(), by_name);
  std::sort(b.begin(), b.end(), by_name);
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i].first, b[i].first);
    const Tensor x = a[i].second.contiguous(), y = b[i].second.contiguous();
    ASSERT_EQ(x.shape(), y.shape()) << a[i].first;
    ASSERT_EQ(x.dtype(), y.dtype()) << a[i].first;
    EXPECT_EQ(std::memcmp(x.raw_data(), y.raw_data(), static_cast<std::size_t>(x.numel()) * dtype_size(x.dtype())), 0)
        << a[i].first << " differs";
  }
}

inline std::string read_text(const std::filesystem::path& path) {
  const Bytes bytes = read_file(path);
  return std::string(bytes.begin(), bytes.end());
}

struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command line, stderr merged into stdout.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  std::FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (!pipe) {
    ADD_FAILURE() << "popen failed for " << command;
    return r;
  }
  std::array<char, 4096> buf{};
  for (std::size_t n; (n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0;) r.output.append(buf.data(), n);
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

// Runs the strata binary with `args` (a shell-quoted string) and `env` assignments (e.g.
// "STRATA_THREADS=1"), stderr merged into stdout. GOMP_SPINCOUNT is set as the tool would set it
// (apps/strata/main.cpp), which saves its re-execution per call; `env` may change or unset it.
inline CommandResult run_strata_env(const std::string& env, const std::string& args) {
  return run_command("GOMP_SPINCOUNT=1000 " + env + (env.empty() ? "" : " ") + "'" + STRATA_CLI + "' " + args);
}

inline CommandResult run_strata(const std::string& args) { return run_strata_env("", args); }

}  // namespace strata::test
