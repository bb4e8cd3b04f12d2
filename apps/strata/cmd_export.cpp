// strata export WEIGHTS -o model.onnx: trained weights as an ONNX model for onnxruntime, OpenCV's
// dnn module, TensorRT and the other tools that read ONNX.
#include <iostream>

#include "commands.hpp"
#include "strata/onnx.hpp"
#include "strata/train.hpp"

namespace strata::cli {

namespace {

struct ExportArgs {
  std::string weights, model, output, batch = "1";
  int opset = onnx::ExportOptions{}.opset;
  bool fold_batch_norm = false;
};

}  // namespace

void add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* cmd = app.add_subcommand("export", "Write trained weights as an ONNX model (evaluation mode)");
  cmd->add_option("weights", a->weights, "Weights file (.safetensors, e.g. runs/lenet-bn/model.safetensors)")
      ->required();
  cmd->add_option("-o,--output", a->output, "ONNX file to write (e.g. lenet-bn.onnx)")->required();
  cmd->add_option("--model", a->model, "Zoo model of a weights file without Strata metadata");
  cmd->add_option("--batch", a->batch,
                  "Batch size the file is for, or 'dynamic' for any (the input's first dimension named 'batch')");
  cmd->add_option("--opset", a->opset, "ONNX opset version")->check(CLI::Range(onnx::kMinOpset, onnx::kMaxOpset));
  cmd->add_flag("--fold-batch-norm", a->fold_batch_norm,
                "Fold each batch norm that follows a convolution into the convolution's weights");
  cmd->callback([a] {
    const train::LoadedModel loaded = train::load_model(a->weights, a->model);
    const train::WeightsInfo& info = loaded.info;
    onnx::ExportOptions options{.opset = a->opset,
                                .dynamic_batch = a->batch == "dynamic",
                                .fold_batch_norm = a->fold_batch_norm,
                                .model_name = info.model};
    const io::Metadata metadata = train::to_metadata(info);
    options.metadata.insert(metadata.begin(), metadata.end());
    Shape shape{1};
    if (!options.dynamic_batch) shape = parse_shape(a->batch, "--batch");
    STRATA_CHECK(shape.ndim() == 1, "--batch: expected one positive integer or 'dynamic', got '", a->batch, "'");
    for (int64_t d : info.input) shape.push_back(d);
    check_input_size(shape, "--batch");
    onnx::save(*loaded.module, shape, a->output, options);
    std::cout << "wrote " << a->output << ": " << info.model << " for inputs of " << shape
              << (options.dynamic_batch ? " (any batch)" : "") << ", opset " << a->opset << "\n";
  });
}

}  // namespace strata::cli
