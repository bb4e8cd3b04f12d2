// strata predict WEIGHTS INPUT...: the top-k classes of images or .npy batches.
#include <cstdio>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "strata/io.hpp"
#include "strata/ops.hpp"
#include "strata/train.hpp"

namespace strata::cli {

namespace {

struct PredictArgs {
  std::string weights, model, output, classes;
  std::vector<std::string> inputs;
  int64_t top_k = 5, batch_size = 256;
  bool json = false, eager = false;
};

// The lines of `path` (a trailing empty line ignored), one class name each; there must be
// `expected` of them (the model's outputs).
std::vector<std::string> read_class_names(const std::string& path, std::size_t expected) {
  std::ifstream in(path);
  STRATA_CHECK(in, "--classes: cannot read ", path);
  std::vector<std::string> names;
  for (std::string line; std::getline(in, line) && names.size() <= expected;) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty() && names.size() > expected) names.pop_back();
  STRATA_CHECK(names.size() == expected, "--classes: ", path, " names ", names.size() > expected ? "more than " : "",
               names.size() > expected ? expected : names.size(), " classes but the model has ", expected,
               " outputs; give one name per line, in the order of the model's outputs");
  return names;
}

}  // namespace

void add_predict_command(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* cmd = app.add_subcommand("predict", "Classify images (PNG, JPEG, BMP) or .npy batches with trained weights");
  cmd->add_option("weights", a->weights, "Weights file (.safetensors)")->required();
  cmd->add_option("inputs", a->inputs, "Image files, or .npy files of float32 N x C x H x W inputs")->required();
  cmd->add_option("--model", a->model, "Zoo model of a weights file without Strata metadata");
  cmd->add_option("--top-k", a->top_k, "Classes to show per input")->check(CLI::Range(1, 100000));
  cmd->add_option("--batch-size", a->batch_size, "Batch size")->check(CLI::Range(1, 65536));
  cmd->add_option("--classes", a->classes,
                  "Class names, one per line (default: the names the weights were trained with, else 0, 1, ...)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--output", a->output, "Also write the logits (N x classes, float32) to this .npy file");
  cmd->add_flag("--json", a->json, "Print one JSON record per input, one per line");
  cmd->add_flag("--eager", a->eager, "Run the model as written, layer by layer, instead of compiled (traced, fused)");
  cmd->callback([a] {
    train::LoadedModel loaded = train::load_model(a->weights, a->model);
    if (!a->classes.empty()) loaded.info.classes = read_class_names(a->classes, loaded.info.classes.size());
    if (!a->eager) loaded.module->hybridize();
    std::vector<Tensor> batches;
    std::vector<std::string> names;  // one per example: the file, with [i] inside a .npy batch
    for (const std::string& path : a->inputs) {
      Tensor x = train::load_input(path, loaded.info);
      const int64_t n = x.size(0);
      for (int64_t i = 0; i < n; ++i) names.push_back(n == 1 ? path : detail::cat(path, "[", i, "]"));
      batches.push_back(std::move(x));
    }
    const Tensor inputs = batches.size() == 1 ? batches[0] : cat(batches, 0);
    const Tensor logits = train::predict_logits(*loaded.module, inputs, a->batch_size);
    const auto top = train::top_k(logits, a->top_k, loaded.info.classes);
    if (!a->output.empty()) io::save_npy(a->output, logits.to(DType::F32));
    if (a->json) {
      for (std::size_t i = 0; i < top.size(); ++i) {
        nlohmann::json classes = nlohmann::json::array();
        for (const train::ClassScore& s : top[i])
          classes.push_back({{"index", s.index}, {"name", s.name}, {"probability", s.probability}});
        std::cout << nlohmann::json{{"input", names[i]}, {"top", classes}}.dump() << "\n";
      }
      return;
    }
    for (std::size_t i = 0; i < top.size(); ++i) {
      std::printf("%s:", names[i].c_str());
      for (std::size_t j = 0; j < top[i].size(); ++j)
        std::printf("%s %s %.4f", j ? "," : "", top[i][j].name.c_str(), top[i][j].probability);
      std::printf("\n");
    }
    if (!a->output.empty()) std::printf("logits: %s\n", a->output.c_str());
  });
}

}  // namespace strata::cli
