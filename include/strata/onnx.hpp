// ONNX export (https://onnx.ai): any module whose forward traces (graph/trace.hpp), written as the
// model file onnxruntime, OpenCV's dnn module, TensorRT and PyTorch's onnx tools read.
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

#include <filesystem>
#include <map>
#include <string>

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

}  // namespace strata::onnx
