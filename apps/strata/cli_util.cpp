#include <limits>

#include "commands.hpp"
#include "strata/error.hpp"
#include "strata/models.hpp"
#include "strata/onnx.hpp"

namespace strata::cli {

Shape parse_shape(const std::string& text, const char* flag) {
  const std::optional<Shape> shape = strata::parse_shape(text, std::numeric_limits<int64_t>::max());
  STRATA_CHECK(shape.has_value(), flag, ": expected at most ", kMaxDims,
               " positive integers separated by commas, such as 1,1,28,28; got '", text, "'");
  return *shape;
}

ModelSource find_model(const std::string& name_or_file) {
  if (!name_or_file.ends_with(".onnx")) {
    const models::ModelInfo& info = models::find(name_or_file);
    return {info.name, info.description, info.input, info.recipe.batch_size, false,
            [&info](int64_t in_channels, int64_t classes) {
              return info.build({.in_channels = in_channels, .num_classes = classes});
            }};
  }
  onnx::Imported imported = onnx::load(name_or_file);
  const Shape input = imported.example_shape();
  std::shared_ptr<nn::Module> module = imported.module;
  const std::string description = "ONNX model, opset " + std::to_string(imported.opset) +
                                  (imported.name.empty() ? "" : ", graph '" + imported.name + "'");
  return {name_or_file, description, input, imported.input_dims[0] > 0 ? imported.input_dims[0] : 1, true,
          [module](int64_t, int64_t) { return module; }};
}

}  // namespace strata::cli
