// ONNX (https://onnx.ai) export and import. Export: any module whose forward traces
// (graph/trace.hpp), written as the model file onnxruntime, OpenCV's dnn module, TensorRT and
// PyTorch's onnx tools read. Import: an ONNX file as a module that runs, trains and exports.
//
//   auto net = models::build("resnet18");
//   net->load_state_dict(io::load_safetensors("model.safetensors").tensors);
//   onnx::save(*net, {1, 1, 96, 96}, "resnet18.onnx", {.dynamic_batch = true});
//
// The file holds the forward pass in evaluation mode (batch norms on their running statistics,
// dropout gone), whatever mode the module is in; the module's modes, buffers and generator are
// as they were afterwards. Parameters and buffers are initializers named by their state_dict keys
// ("0.weight", "1.0.conv1.weight"), so tools reading the file see PyTorch's names. The protobuf is
// written with ONNX's own generated classes (libonnx) and checked by its checker and its shape
// inference before anything is written; the file is written whole or not at all.
#pragma once
#pragma GCC visibility push(default)

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "strata/nn/module.hpp"

namespace strata::onnx {

struct ExportOptions {
  int opset = 17;                // the default domain's opset version: 13 to 17
  bool dynamic_batch = false;    // the first dimension of input and output a symbol ("batch")
  bool fold_batch_norm = false;  // batch norms after convolutions folded into their weights
  std::string model_name = {};   // the graph's name and the model's doc_string (default: the module's type)
  std::string input_name = "input", output_name = "logits";
  std::map<std::string, std::string> metadata = {};  // the model's metadata_props
};

// The smallest and largest opset export writes.
inline constexpr int kMinOpset = 13, kMaxOpset = 17;

// The serialized ModelProto of module's forward for inputs of `input_shape` (batch first; with
// dynamic_batch any batch then runs it). A module part the trace could not see into (graph::Call:
// a kernel of the user's own, data-dependent control flow), an op without an ONNX form, a dtype
// other than f32 or a forward that is not batch-generic where dynamic_batch asks for it is a
// strata::Error naming the layer and the reason; nothing is written then.
std::string to_bytes(nn::Module& module, const Shape& input_shape, const ExportOptions& options = {});

// to_bytes written to `path` (atomically: a failed export leaves no file).
void save(nn::Module& module, const Shape& input_shape, const std::filesystem::path& path,
          const ExportOptions& options = {});

// ---- Import ----

// The opsets of the default domain import reads.
inline constexpr int kMinImportOpset = 11, kMaxImportOpset = 18;

// An ONNX model read as a module (onnx::load).
struct Imported {
  // Its forward runs the file's nodes as Strata ops: it trains (batch norms on batch statistics
  // and dropout back in training mode), hybridizes, compiles and exports like a model written in
  // C++. Its state is the file's float initializers under their own names, split at the dots
  // into child modules, so state_dict() keys are the file's names (PyTorch's, for files PyTorch
  // exported). Returned in evaluation mode.
  std::shared_ptr<nn::Module> module;
  std::vector<int64_t> input_dims;   // the input's declared dimensions, -1 where symbolic ("batch")
  std::vector<int64_t> output_dims;  // the output's, as declared (empty when the file gives none)
  std::string name, input_name, output_name;
  int opset = 0;
  std::map<std::string, std::string> metadata;  // metadata_props
  std::string where;                            // what messages about the file start with

  // The input of one example: input_dims with a batch of 1. A symbolic dimension other than the
  // batch is an error (Strata runs ONNX models of a fixed image size).
  Shape example_shape() const;
};

// How to read a model.
struct ImportOptions {
  // Transfer learning: when positive, the last node with weights (Gemm, MatMul or Conv: the
  // classifier) gets new weights of this many outputs in place of the file's, Xavier-uniform
  // from the default generator (the book's initialisation) with a zero bias, and output_dims
  // follows. 0: the file's classifier.
  int64_t num_classes = 0;
};

// Reads an ONNX model. The operators it runs are those PyTorch's exporter writes for image
// classifiers (onnx::supported_operators lists them); integer values computed from shapes
// (Shape, Gather, Concat, ...) fold to constants. A malformed file, an unsupported operator,
// opset, data type or a tensor kept in an external file is a strata::Error naming the node or
// tensor and what is supported; declared sizes are checked against the file's bytes before any
// allocation.
Imported load(const std::filesystem::path& path, const ImportOptions& options = {});
// The same from a serialized ModelProto; `where` starts every message ("model.onnx: ").
Imported from_bytes(const std::string& bytes, const std::string& where = "onnx::from_bytes: ",
                    const ImportOptions& options = {});

}  // namespace strata::onnx

#pragma GCC visibility pop
