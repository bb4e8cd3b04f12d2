// strata eval WEIGHTS: test accuracy, per-class accuracy and the confusion matrix of trained
// weights on the test split of their dataset.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "strata/train.hpp"

namespace strata::cli {

namespace {

struct EvalArgs {
  std::string weights, model, data, dataset;
  int64_t batch_size = 256, limit = 0;
  bool json = false, eager = false;
};

void print_text(const train::Evaluation& ev, const std::string& dataset) {
  const auto k = static_cast<int64_t>(ev.class_names.size());
  std::printf("test accuracy %.4f (%lld of %lld %s test images)\n\n", ev.accuracy(),
              static_cast<long long>(ev.correct()), static_cast<long long>(ev.count()), dataset.c_str());
  int width = 5;
  for (const std::string& n : ev.class_names) width = std::max(width, static_cast<int>(n.size()));
  std::printf("%3s  %-*s  %8s  %6s\n", "#", width, "class", "accuracy", "images");
  for (int64_t c = 0; c < k; ++c) {
    const double acc = ev.class_accuracy(c);
    char acc_text[16] = "-";
    if (!std::isnan(acc)) std::snprintf(acc_text, sizeof acc_text, "%.4f", acc);
    std::printf("%3lld  %-*s  %8s  %6lld\n", static_cast<long long>(c), width, ev.class_names[c].c_str(), acc_text,
                static_cast<long long>(ev.class_count(c)));
  }
  std::printf("\nconfusion matrix (rows: true class #, columns: predicted class #)\n%5s", "");
  for (int64_t p = 0; p < k; ++p) std::printf(" %5lld", static_cast<long long>(p));
  std::printf("\n");
  for (int64_t t = 0; t < k; ++t) {
    std::printf("%5lld", static_cast<long long>(t));
    for (int64_t p = 0; p < k; ++p) std::printf(" %5lld", static_cast<long long>(ev.confusion[t][p]));
    std::printf("\n");
  }
}

void print_json(const train::Evaluation& ev, const train::WeightsInfo& info, const std::string& dataset) {
  nlohmann::json classes = nlohmann::json::array();
  for (std::size_t c = 0; c < ev.class_names.size(); ++c) {
    const double acc = ev.class_accuracy(static_cast<int64_t>(c));
    classes.push_back({{"index", c},
                       {"name", ev.class_names[c]},
                       {"accuracy", std::isnan(acc) ? nlohmann::json(nullptr) : nlohmann::json(acc)},
                       {"images", ev.class_count(static_cast<int64_t>(c))}});
  }
  std::cout << nlohmann::json{{"model", info.model},      {"dataset", dataset},   {"accuracy", ev.accuracy()},
                              {"correct", ev.correct()},  {"images", ev.count()}, {"classes", classes},
                              {"confusion", ev.confusion}}
                   .dump()
            << "\n";
}

}  // namespace

void add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* cmd =
      app.add_subcommand("eval", "Evaluate trained weights on a test set: accuracy, per class, confusion matrix");
  cmd->add_option("weights", a->weights, "Weights file (.safetensors, e.g. runs/lenet-bn/model.safetensors)")
      ->required();
  cmd->add_option("--model", a->model, "Zoo model of a weights file without Strata metadata");
  cmd->add_option("--data", a->data, "Dataset directory (default: the dataset's install location)");
  cmd->add_option("--dataset", a->dataset, "Dataset (default: the one the weights were trained on)")
      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10", "folder"}));
  cmd->add_option("--batch-size", a->batch_size, "Batch size")->check(CLI::Range(1, 65536));
  cmd->add_option("--limit", a->limit, "Evaluate the first N test images only")
      ->check(CLI::Range(int64_t{0}, int64_t{1} << 31));
  cmd->add_flag("--json", a->json, "Print one JSON record");
  cmd->add_flag("--eager", a->eager, "Run the model as written, layer by layer, instead of compiled (traced, fused)");
  cmd->callback([a] {
    const train::LoadedModel loaded = train::load_model(a->weights, a->model);
    if (!a->eager) loaded.module->hybridize();
    const train::WeightsInfo& info = loaded.info;
    STRATA_CHECK(info.input.ndim() == 3, "eval: ", info.model, " takes ", info.input.ndim() - 1,
                 "-D inputs; eval runs on 2-D image datasets");
    const std::string dataset = !a->dataset.empty()     ? a->dataset
                                : !info.dataset.empty() ? info.dataset
                                                        : "fashion-mnist";
    // A folder's images keep their own size for the eval transforms; otherwise they are resized to
    // the model's input as they are read.
    data::ImageTransforms transforms = data::parse_image_transforms(info.eval_transforms);
    const data::DatasetPtr test = train::open_split(train::parse_dataset(dataset), a->data, data::Split::Test,
                                                    info.input[0], transforms.empty() ? info.input[1] : 0);
    STRATA_CHECK(test->image_shape()[0] == info.input[0], "eval: ", a->weights, " takes ", info.input[0],
                 "-channel images but ", dataset, " has ", test->image_shape()[0], " channels");
    STRATA_CHECK(test->num_classes() == static_cast<int64_t>(info.classes.size()), "eval: ", a->weights, " has ",
                 info.classes.size(), " classes but ", dataset, " has ", test->num_classes());
    data::Transform transform{
        .resize_height = info.input[1], .resize_width = info.input[2], .mean = info.mean, .std = info.std};
    const data::DataLoader loader(test, {.batch_size = a->batch_size,
                                         .limit = a->limit,
                                         .image_transforms = std::move(transforms),
                                         .transform = std::move(transform)});
    const train::Evaluation ev = train::evaluate(*loaded.module, loader);
    if (a->json)
      print_json(ev, info, dataset);
    else
      print_text(ev, dataset);
  });
}

}  // namespace strata::cli
