#include "strata/nn/weights.hpp"

namespace strata::nn {

void save_weights(const Module& module, const std::filesystem::path& path, const io::Metadata& metadata) {
  NamedTensors state;
  for (const auto& [name, t] : module.state_dict()) state.emplace_back(name, t.detach());
  io::save_safetensors(path, state, metadata);
}

io::Metadata load_weights(Module& module, const std::filesystem::path& path) {
  io::TensorFile file = io::load_safetensors(path);
  try {
    module.load_state_dict(file.tensors);
  } catch (const Error& e) {
    fail("load_weights: '", path.string(), "': ", e.what());
  }
  return file.metadata;
}

}  // namespace strata::nn
