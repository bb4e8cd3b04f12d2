// Inference on files: images and .npy batches in, logits and top-k classes out.
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "strata/nn/module.hpp"
#include "strata/train/model_file.hpp"

namespace strata::train {

// The model input of one image file (PNG, JPEG or BMP; decoded with stb_image): converted to
// info.input's channels (1: grey, 3: RGB; alpha dropped), scaled to [0, 1], bilinearly resized
// to its H x W and normalised with info.mean/std, as in training. Returns (1, C, H, W).
Tensor load_image_input(const std::filesystem::path& path, const WeightsInfo& info);

// A .npy batch of prepared inputs: (N, C, H, W) (or (C, H, W) for one example) of floats whose
// example shape equals info.input. Returns f32 (N, C, H, W).
Tensor load_npy_input(const std::filesystem::path& path, const WeightsInfo& info);

// load_npy_input for a name ending in .npy, else load_image_input.
Tensor load_input(const std::filesystem::path& path, const WeightsInfo& info);

// The logits of `model` on `inputs` (N, ...) in evaluation mode, batch_size examples at a time.
Tensor predict_logits(nn::Module& model, const Tensor& inputs, int64_t batch_size = 256);

struct ClassScore {
  int64_t index = 0;
  std::string name;
  double probability = 0.0;  // softmax of the logits
};

// The k most probable classes of each row of `logits` (N, K), most probable first (ties: lower
// index first); k is capped at K. class_names has K entries.
std::vector<std::vector<ClassScore>> top_k(const Tensor& logits, int64_t k,
                                           const std::vector<std::string>& class_names);

}  // namespace strata::train

#pragma GCC visibility pop
