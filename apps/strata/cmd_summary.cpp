// strata summary MODEL [--input N,C,H,W] [--json] [--graph [--mode infer|train]]: one row per
// layer with output shape, parameters and multiply-accumulates, then totals; with --graph, the
// graph the compiled model runs (after the passes: fused ops named by all their steps).
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "strata/autograd.hpp"
#include "strata/models.hpp"
#include "nn/trace_module.hpp"
#include "strata/nn/summary.hpp"

namespace strata::cli {

namespace {
struct SummaryArgs {
  std::string model;
  std::string input;
  int64_t classes = 10;
  bool json = false, graph = false;
  std::string mode = "infer";
};

// The optimized graph of `model` for `input` in inference (evaluation, no gradients) or training.
std::string compiled_graph(nn::Module& model, const Shape& input, const std::string& mode) {
  model.hybridize();
  model.train(mode == "train");
  std::optional<NoGradGuard> no_grad;
  if (mode == "infer") no_grad.emplace();
  const nn::Module::CompiledGraph g = model.compiled_graph(input);
  if (mode == "train") return g.optimized;
  char memory[160];
  std::snprintf(memory, sizeof memory, "\nmemory plan: one arena of %.2f MB for every buffer of a call (%.2f MB without reuse)",
                static_cast<double>(g.arena_bytes) / (1 << 20), static_cast<double>(g.unplanned_bytes) / (1 << 20));
  return g.optimized + memory + (g.branch_regions.empty() ? "" : "\n" + g.branch_regions);
}

nlohmann::json shape_json(const Shape& s) { return std::vector<int64_t>(s.begin(), s.end()); }
}  // namespace

void add_summary_command(CLI::App& app) {
  auto args = std::make_shared<SummaryArgs>();
  auto* cmd = app.add_subcommand("summary", "Print a model's layers, output shapes, parameters and MACs");
  cmd->add_option("model", args->model, "Model name (see `strata models`) or ONNX file (model.onnx)")->required();
  cmd->add_option("--input", args->input, "Input shape N,C,H,W (N,C,D,H,W for 3-D models); default: the model's training input");
  cmd->add_option("--classes", args->classes, "Number of output classes")->check(CLI::Range(int64_t{1}, kMaxClasses));
  cmd->add_flag("--json", args->json, "Print one JSON record instead of a table");
  cmd->add_flag("--graph", args->graph, "Also print the compiled graph (after fusion, batch-norm folding, ...)");
  cmd->add_option("--mode", args->mode, "The graph's mode: infer (evaluation, no gradients) or train")
      ->check(CLI::IsMember({"infer", "train"}));
  cmd->callback([args] {
    const ModelSource info = find_model(args->model);
    const Shape input = args->input.empty() ? info.input : parse_shape(args->input, "--input");
    STRATA_CHECK(input.ndim() == info.input.ndim(), "--input: ", info.name, " takes a ", info.input.ndim(),
                 "-D input such as ", info.input, ", got ", input);
    check_input_size(input, "--input");
    auto model = info.build(input[1], args->classes);
    nn::ModelSummary s;
    try {
      s = nn::summarize(*model, input);
    } catch (const nn::LayerError& e) {
      fail(info.name, " cannot take input ", input, ": it stops at layer ", e.layer_path(), " (", e.layer_type(),
           ") whose input is ", e.input_shape(), ": ", e.op_message());
    }
    // An ONNX file's model is one module: its multiply-accumulates and activations (every op's
    // output but the views) come from its traced graph.
    if (info.from_file) {
      const graph::Graph g = nn::trace_module(*model, input, DType::F32);
      s.macs = g.multiply_accumulates();
      s.activation_bytes = 0;
      for (const graph::Node& n : g.nodes) {
        const bool view = n.op == graph::OpKind::Reshape || n.op == graph::OpKind::Permute ||
                          n.op == graph::OpKind::Slice;
        if (n.output() != graph::kNoValue && !view)
          s.activation_bytes += g.values[n.output()].shape.numel() / std::max<int64_t>(input[0], 1) * 4;
      }
    }
    const std::string graph = args->graph ? compiled_graph(*model, input, args->mode) : std::string();
    if (!args->json) {
      std::cout << info.name << " (" << info.description << ")\n" << nn::format_summary(s);
      if (args->graph) std::cout << "\ncompiled for " << (args->mode == "train" ? "training" : "inference") << ":\n"
                                 << graph << "\n";
      return;
    }
    nlohmann::json layers = nlohmann::json::array();
    for (const nn::LayerSummary& l : s.layers)
      layers.push_back({{"name", l.name}, {"type", l.type}, {"depth", l.depth}, {"leaf", l.leaf},
                        {"output", shape_json(l.output)}, {"params", l.params}, {"macs", l.macs}});
    std::cout << nlohmann::json{{"model", info.name}, {"input", shape_json(s.input)}, {"output", shape_json(s.output)},
                                {"params", s.params}, {"macs", s.macs}, {"activation_bytes", s.activation_bytes},
                                {"layers", layers}, {"graph", graph}}
                     .dump()
              << "\n";
  });
}

}  // namespace strata::cli
