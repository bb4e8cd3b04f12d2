// Weights files with Strata metadata: writing the metadata, reading it back strictly, and
// building + loading the model a file describes.
#include "strata/train/model_file.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <sstream>

#include "io/json.hpp"
#include "strata/autograd.hpp"
#include "strata/backend.hpp"
#include "strata/data/image_transforms.hpp"
#include "strata/error.hpp"
#include "strata/models.hpp"
#include "strata/nn/weights.hpp"
#include "strata/onnx.hpp"
#include "train/checkpoint.hpp"
#include "train/weights_metadata.hpp"

namespace strata::train {
namespace {

using json = nlohmann::json;

constexpr int64_t kMaxInputSize = 4096;  // per dimension of strata.input

std::string shape_text(const Shape& s) {
  std::ostringstream out;
  for (int i = 0; i < s.ndim(); ++i) out << (i ? "," : "") << s[i];
  return out.str();
}

// "1,28,28" -> [1,28,28]: 3 or 4 positive sizes.
Shape parse_input(const std::string& text, const std::string& where) {
  const std::optional<Shape> s = parse_shape(text, kMaxInputSize, 4);
  STRATA_CHECK(s.has_value() && s->ndim() >= 3, where, "strata.input must be C,H,W or C,D,H,W with sizes in [1, ",
               kMaxInputSize, "] such as 1,28,28; got '", detail::printable(text, 80), "'");
  return *s;
}

std::vector<float> float_list(const json& j, const std::string& where, const char* key) {
  STRATA_CHECK(
      j.is_array() && j.size() <= 4 && std::all_of(j.begin(), j.end(), [](const json& v) { return v.is_number(); }),
      where, "strata.normalize ", key, " must be a list of at most 4 numbers, got ", io::json_excerpt(j));
  return j.get<std::vector<float>>();
}

}  // namespace

io::Metadata to_metadata(const WeightsInfo& info) {
  io::Metadata m;
  m["strata.model"] = info.model;
  m["strata.input"] = shape_text(info.input);
  m["strata.classes"] = json(info.classes).dump();
  if (!info.dataset.empty()) m["strata.dataset"] = info.dataset;
  if (!info.mean.empty()) m["strata.normalize"] = json{{"mean", info.mean}, {"std", info.std}}.dump();
  if (!info.eval_transforms.empty()) m["strata.eval_transforms"] = info.eval_transforms;
  return m;
}

WeightsInfo parse_weights_info(const io::Metadata& m, const std::string& where, const std::string& model_override) {
  auto get = [&](const char* key) -> const std::string* {
    auto it = m.find(key);
    return it == m.end() ? nullptr : &it->second;
  };
  WeightsInfo info;
  const std::string* model = get("strata.model");
  STRATA_CHECK(model || !model_override.empty(), where,
               "has no strata.model metadata (not written by Strata?); name its architecture with --model NAME");
  info.model = model_override.empty() ? *model : model_override;
  // A model of the user's own (trained with a ModelBuilder) is not in the zoo; its files always
  // carry strata.input.
  const models::ModelInfo* zoo = models::lookup(info.model);

  if (const std::string* input = get("strata.input")) {
    info.input = parse_input(*input, where);
  } else {
    if (!zoo) models::find(info.model);  // the error listing the zoo
    for (int d = 1; d < zoo->input.ndim(); ++d) info.input.push_back(zoo->input[d]);
  }
  STRATA_CHECK(!zoo || info.input.ndim() + 1 == zoo->input.ndim(), where, "strata.input ", info.input, " does not fit ",
               info.model, ", whose input is ", zoo->input.ndim() - 1, "-D (such as ", zoo->input, " with the batch)");

  if (const std::string* classes = get("strata.classes")) {
    const json j = io::parse_json(*classes, where, "strata.classes");
    STRATA_CHECK(j.is_array() && !j.empty() && j.size() <= static_cast<std::size_t>(kMaxClasses) &&
                     std::all_of(j.begin(), j.end(), [](const json& v) { return v.is_string(); }),
                 where, "strata.classes must be a non-empty JSON list of class names, got ", detail::printable(*classes, 80));
    info.classes = j.get<std::vector<std::string>>();
  } else {
    for (int k = 0; k < 10; ++k) info.classes.push_back(std::to_string(k));
  }

  if (const std::string* dataset = get("strata.dataset")) info.dataset = *dataset;

  if (const std::string* transforms = get("strata.eval_transforms")) {
    try {
      data::parse_image_transforms(*transforms);
    } catch (const Error& e) {
      fail(where, "strata.eval_transforms: ", e.what());
    }
    info.eval_transforms = *transforms;
  }

  if (const std::string* norm = get("strata.normalize")) {
    const json j = io::parse_json(*norm, where, "strata.normalize");
    STRATA_CHECK(j.is_object() && j.contains("mean") && j.contains("std"), where,
                 "strata.normalize must be {\"mean\": [...], \"std\": [...]}, got ", detail::printable(*norm, 80));
    info.mean = float_list(j["mean"], where, "mean");
    info.std = float_list(j["std"], where, "std");
    STRATA_CHECK(info.mean.size() == info.std.size() &&
                     (info.mean.size() == 1 || static_cast<int64_t>(info.mean.size()) == info.input[0]),
                 where, "strata.normalize has ", info.mean.size(), " means and ", info.std.size(), " stds for ",
                 info.input[0], " channels");
    for (float s : info.std) STRATA_CHECK(s > 0.0f, where, "strata.normalize std values must be positive");
  }
  return info;
}

WeightsInfo read_weights_info(const std::filesystem::path& path, const std::string& model_override) {
  const io::Metadata m = io::read_safetensors_metadata(path);
  const std::string where = detail::cat("'", path.string(), "': ");
  STRATA_CHECK(!is_checkpoint(m), where,
               "is a training checkpoint, not a weights file; use model.safetensors or best.safetensors of "
               "the same run directory");
  return parse_weights_info(m, where, model_override);
}

namespace {

// An ONNX file: its module, and the metadata export wrote, or what the file's input and output
// say (a name for the model, the input without the batch, classes "0".."K-1").
LoadedModel load_onnx_model(const std::filesystem::path& path, const std::string& model_override) {
  onnx::Imported imported = onnx::load(path);
  const std::string where = detail::cat("'", path.string(), "': ");
  io::Metadata m = imported.metadata;
  if (!model_override.empty() || !m.contains("strata.model"))
    m["strata.model"] = !model_override.empty()  ? model_override
                        : !imported.name.empty() ? imported.name
                                                 : path.stem().string();
  if (!m.contains("strata.input")) {
    const Shape example = imported.example_shape();  // {1, C, H, W}
    m["strata.input"] = shape_text(Shape(std::span<const int64_t>(example).subspan(1)));
  }
  if (!m.contains("strata.classes")) {
    int64_t classes = imported.output_dims.size() == 2 ? imported.output_dims[1] : -1;
    if (classes <= 0) {  // not declared: one forward on zeros tells (leaving no weight copies held)
      NoGradGuard no_grad;
      NoWeightCachingGuard no_caching;
      const Tensor y = (*imported.module)(zeros(imported.example_shape()));
      STRATA_CHECK(y.ndim() == 2, where, "the output has shape ", y.shape(),
                   "; Strata's classifiers output (batch, classes)");
      classes = y.shape()[1];
    }
    std::vector<std::string> names;
    for (int64_t k = 0; k < classes; ++k) names.push_back(std::to_string(k));
    m["strata.classes"] = json(names).dump();
  }
  LoadedModel loaded;
  loaded.info = parse_weights_info(m, where, "");
  loaded.module = imported.module;
  loaded.module->eval();
  return loaded;
}

}  // namespace

Shape output_shape_for(nn::Module& model, const Shape& input, const std::string& name, const std::string& hint) {
  Shape example{1};
  for (int64_t d : input) example.push_back(d);
  const bool training = model.is_training();
  try {
    // A probe: the weight cache keeps no copies of the weights for it (a compiled model runs
    // folded ones, and their copies are made on its first call).
    NoGradGuard no_grad;
    NoWeightCachingGuard no_caching;
    model.eval();
    const Shape out = model(zeros(example)).shape();
    model.train(training);
    return out;
  } catch (const nn::LayerError& e) {
    model.train(training);
    std::string size;
    for (int64_t d : input) size += (size.empty() ? "" : "x") + std::to_string(d);
    fail(name, " cannot take ", size, " images: it stops at layer ", e.layer_path(), " (", e.layer_type(),
         ") whose input is ", e.input_shape(), ": ", e.op_message(), "; ", hint);
  }
}

LoadedModel load_model(const std::filesystem::path& path, const std::string& model_override) {
  if (path.extension() == ".onnx") return load_onnx_model(path, model_override);
  LoadedModel loaded;
  loaded.info = read_weights_info(path, model_override);
  std::error_code ec;
  const std::filesystem::path onnx_beside = path.parent_path() / "model.onnx";
  STRATA_CHECK(models::lookup(loaded.info.model) || !std::filesystem::is_regular_file(onnx_beside, ec), "'",
               path.string(), "': ", detail::printable(loaded.info.model, 80),
               " is not a model this program knows (a model of another program's own); its run wrote ",
               onnx_beside.string(), ", which holds the architecture too: pass that file instead");
  loaded.module = models::build(loaded.info.model, {.in_channels = loaded.info.input[0],
                                                    .num_classes = static_cast<int64_t>(loaded.info.classes.size())});
  nn::load_weights(*loaded.module, path);
  loaded.module->eval();
  // Before any data of the declared size is loaded (1x2048x2048 took 3.2 GB, then asked for 20).
  const Shape out = output_shape_for(*loaded.module, loaded.info.input, loaded.info.model,
                                     "the file's strata.input metadata does not fit its model");
  STRATA_CHECK(out.ndim() == 2 && out[1] == static_cast<int64_t>(loaded.info.classes.size()), "'", path.string(),
               "': ", loaded.info.model, " gives outputs of shape ", out, " for one image, but the file names ",
               loaded.info.classes.size(), " classes");
  return loaded;
}

}  // namespace strata::train
