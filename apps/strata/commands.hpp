// The strata command-line tool: one file per subcommand, each registering itself on the app.
// Subcommands are thin: parse -> build -> run -> report.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "strata/shape.hpp"

namespace strata::cli {

void add_models_command(CLI::App& app);
void add_summary_command(CLI::App& app);
void add_train_command(CLI::App& app);
void add_eval_command(CLI::App& app);
void add_predict_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_export_command(CLI::App& app);

// "1,1,28,28" -> [1,1,28,28]; throws strata::Error naming the flag on a malformed list.
Shape parse_shape(const std::string& text, const char* flag);

}  // namespace strata::cli
