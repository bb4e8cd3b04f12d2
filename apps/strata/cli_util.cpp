#include <cstdlib>
#include <limits>
#include <string>

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

void check_input_size(const Shape& input, const char* flags) {
  train::check_input_memory(input, detail::cat(flags, ": an input of ", input), "lower the batch size or the input size");
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

void check_thread_environment() {
  const char* value = std::getenv("OMP_NUM_THREADS");
  if (value == nullptr || *value == '\0') return;
  // A list ("4,2") sets the threads of nested levels; each entry counts.
  std::string text = value;
  for (std::size_t start = 0; start <= text.size();) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    const std::string entry = text.substr(start, comma - start);
    std::size_t used = 0;
    long long n = 0;
    try {
      n = std::stoll(entry, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    STRATA_CHECK(used == entry.size() && !entry.empty() && n >= 1 && n <= kMaxThreads, "OMP_NUM_THREADS=", text,
                 ": each entry must be a thread count from 1 to ", kMaxThreads, "; unset it or give a smaller number");
    start = comma + 1;
  }
}

}  // namespace strata::cli
