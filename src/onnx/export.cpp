// onnx::save and onnx::to_bytes: the module traced in evaluation mode, the graph simplified for
// inference, written as a ModelProto and checked by ONNX's own checker and shape inference.
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <onnx/shape_inference/implementation.h>

#include <utility>
#include <vector>

#include "graph/passes.hpp"
#include "graph/trace.hpp"
#include "io/file.hpp"
#include "nn/trace_module.hpp"
#include "onnx/graph_to_proto.hpp"
#include "strata/error.hpp"
#include "strata/onnx.hpp"

namespace strata::onnx {
namespace {

namespace pb = ::onnx;

// Every module in evaluation mode while alive; each module's own mode back afterwards.
class EvalModeGuard {
 public:
  explicit EvalModeGuard(nn::Module& m) : modules_(m.named_modules()) {
    for (const auto& [_, module] : modules_) modes_.push_back(module->is_training());
    m.eval();
  }
  ~EvalModeGuard() {
    // Parents first: a module's train() sets its descendants too, which then set their own.
    for (std::size_t i = 0; i < modules_.size(); ++i) modules_[i].second->train(modes_[i]);
  }
  EvalModeGuard(const EvalModeGuard&) = delete;
  EvalModeGuard& operator=(const EvalModeGuard&) = delete;

 private:
  std::vector<std::pair<std::string, nn::Module*>> modules_;
  std::vector<bool> modes_;
};

// The graph to write: traced in evaluation mode, without dropout, batch norms folded on request,
// and nothing that does not reach the output.
graph::Graph export_graph(nn::Module& m, const Shape& shape, const ExportOptions& options) {
  EvalModeGuard eval(m);
  graph::Graph g = nn::trace_module(m, shape, DType::F32);
  if (options.dynamic_batch) {
    // Batch-generic: the graphs for a batch of 1 (g itself when that is the batch traced) and 2
    // are the same but for the batch dimension.
    Shape one = shape, two = shape;
    one[0] = 1;
    two[0] = 2;
    const graph::Graph small = shape[0] == 1 ? g : nn::trace_module(m, one, DType::F32);
    STRATA_CHECK(graph::rebatch(small, nn::trace_module(m, two, DType::F32), 1), "onnx export: ", m.type_name(),
                 "'s forward does not treat the first dimension of its input as the batch throughout (its graphs "
                 "for a batch of 1 and of 2 differ in more than that dimension); export it for a fixed batch "
                 "(without dynamic batch)");
  }
  graph::remove_dropout(g);
  if (options.fold_batch_norm) graph::fold_batch_norm(g);
  graph::eliminate_dead_code(g);
  return g;
}

void check(pb::ModelProto& model) {
  try {
    pb::checker::check_model(model);
    pb::ModelProto inferred = model;
    pb::shape_inference::InferShapes(inferred, pb::OpSchemaRegistry::Instance(),
                                     pb::ShapeInferenceOptions(/*check_type=*/true, /*strict=*/1));
  } catch (const std::exception& e) {
    fail("onnx export: internal error: ONNX's checker refused the model Strata wrote: ", e.what());
  }
}

}  // namespace

std::string to_bytes(nn::Module& module, const Shape& input_shape, const ExportOptions& options) {
  STRATA_CHECK(options.opset >= kMinOpset && options.opset <= kMaxOpset, "onnx export: opset ", options.opset,
               " is not supported; export writes opsets ", kMinOpset, " to ", kMaxOpset);
  STRATA_CHECK(input_shape.ndim() >= 1 && input_shape.numel() > 0, "onnx export: the input shape ", input_shape,
               " is empty; give the shape of a batch, such as 1,1,28,28");
  for (const auto& [key, t] : module.state_dict())
    STRATA_CHECK(!is_floating(t.dtype()) || t.dtype() == DType::F32, "onnx export: '", key, "' is ",
                 dtype_name(t.dtype()), "; export writes f32 models (convert with module.to(DType::F32))");
  const graph::Graph g = export_graph(module, input_shape, options);

  const std::string name = options.model_name.empty() ? module.type_name() : options.model_name;
  pb::ModelProto model;
  model.set_ir_version(8);  // ONNX 1.10-1.12, which opsets 13-17 need at most
  model.set_producer_name("strata");
  model.set_producer_version(STRATA_VERSION);
  model.set_doc_string(name);
  pb::OperatorSetIdProto* opset = model.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  for (const auto& [key, value] : options.metadata) {
    pb::StringStringEntryProto* entry = model.add_metadata_props();
    entry->set_key(key);
    entry->set_value(value);
  }
  graph_to_proto(g, {name, options.input_name, options.output_name, options.dynamic_batch, options.opset},
                 *model.mutable_graph());
  check(model);

  std::string bytes;
  STRATA_CHECK(model.SerializeToString(&bytes), "onnx export: ", name, " does not fit one ONNX file (2 GiB)");
  return bytes;
}

void save(nn::Module& module, const Shape& input_shape, const std::filesystem::path& path,
          const ExportOptions& options) {
  const std::string bytes = to_bytes(module, input_shape, options);
  io::AtomicOutputFile file(path, "onnx::save");
  file.write(bytes.data(), bytes.size());
  file.commit();
}

}  // namespace strata::onnx
