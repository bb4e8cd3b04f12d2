// Trained weights files: what Strata records about the model in the safetensors metadata, and
// loading a file back into a freshly built zoo model.
//
// Metadata keys (all strings):
//   strata.model      zoo name, e.g. "lenet-bn"
//   strata.input      one example's shape C,H,W as trained, e.g. "1,28,28"
//   strata.classes    class names as a JSON list
//   strata.dataset    the dataset trained on, e.g. "fashion-mnist" (optional)
//   strata.normalize  {"mean": [...], "std": [...]} when inputs were normalised (optional)
#pragma once
#pragma GCC visibility push(default)

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "strata/io.hpp"
#include "strata/nn/module.hpp"

namespace strata::train {

struct WeightsInfo {
  std::string model;  // zoo name
  Shape input;        // one example: C,H,W (C,D,H,W for 3-D models)
  std::vector<std::string> classes;
  std::string dataset;           // empty when unknown
  std::vector<float> mean, std;  // empty: no normalisation
  // torchvision-style transforms each image takes before the resize to `input` and the
  // normalisation (data::parse_image_transforms), e.g. "Resize(256) CenterCrop(224)"; empty: none.
  std::string eval_transforms;
};

io::Metadata to_metadata(const WeightsInfo& info);

// Reads the metadata of a weights file. `model_override` (non-empty) names the zoo model for a
// file without strata.model (one written by PyTorch); the input then defaults to the zoo
// model's and the classes to "0".."9". Malformed values are errors naming the file and key.
WeightsInfo read_weights_info(const std::filesystem::path& path, const std::string& model_override = "");

struct LoadedModel {
  std::shared_ptr<nn::Module> module;  // in evaluation mode
  WeightsInfo info;
};

// Builds the model the file describes and loads its weights; weights of another architecture
// are an error naming the missing, unexpected and mis-shaped tensors.
LoadedModel load_model(const std::filesystem::path& path, const std::string& model_override = "");

}  // namespace strata::train

#pragma GCC visibility pop
