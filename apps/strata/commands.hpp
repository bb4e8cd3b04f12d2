// The strata command-line tool: one file per subcommand, each registering itself on the app.
// Subcommands are thin: parse -> build -> run -> report.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <memory>
#include <string>

#include "strata/nn/module.hpp"
#include "strata/shape.hpp"
#include "strata/train/config.hpp"

namespace strata::cli {

void add_models_command(CLI::App& app);
void add_summary_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_export_command(CLI::App& app);

// A model named on the command line: a zoo model's name, or an ONNX file (a path ending in .onnx).
struct ModelSource {
  std::string name, description;
  Shape input;             // one example, batch first: {1, C, H, W}
  int64_t batch_size = 1;  // the zoo recipe's
  bool from_file = false;
  // The zoo model for `in_channels` and `classes`, freshly initialised; or the file's model (the
  // same one each call: its shapes are the file's).
  std::function<std::shared_ptr<nn::Module>(int64_t in_channels, int64_t classes)> build;
};
ModelSource find_model(const std::string& name_or_file);

// Refuses an OMP_NUM_THREADS that OpenMP would act on but that names more than kMaxThreads threads
// (OpenMP aborts when it cannot create them) or is not a number.
void check_thread_environment();

using train::kMaxClasses;
using train::kMaxThreads;

// "1,1,28,28" -> [1,1,28,28]; throws strata::Error naming the flag on a malformed list.
Shape parse_shape(const std::string& text, const char* flag);

// Refuses a model input (batch first) whose floats alone would take more than train::kMaxInputGiB,
// naming the flags that set it: a mistyped batch size or input size, not a request to allocate it.
void check_input_size(const Shape& input, const char* flags);

}  // namespace strata::cli
