#include "strata/nn/weights.hpp"

#include <map>
#include <optional>

#include "io/file.hpp"
#include "io/safetensors_header.hpp"
#include "nn/state_dict.hpp"
#include "strata/autograd.hpp"

namespace strata::nn {

void save_weights(const Module& module, const std::filesystem::path& path, const io::Metadata& metadata) {
  NamedTensors state;
  for (const auto& [name, t] : module.state_dict()) state.emplace_back(name, t.detach());
  io::save_safetensors(path, state, metadata);
}

// The file's tensors are read one at a time, each straight into its parameter where the stored
// type is the parameter's: loading never holds the weights twice (AlexNet's 187 MB, VGG-11's 531).
io::Metadata load_weights(Module& module, const std::filesystem::path& path) {
  const io::InputFile file(path, "load_weights");
  io::SafetensorsHeader header = io::read_safetensors_header(file);
  const std::vector<io::SafetensorsRead> reads = io::plan_safetensors_reads(file, header);
  std::vector<std::pair<std::string, std::optional<Shape>>> shapes;
  std::map<std::string, std::size_t> entry_of;
  for (std::size_t i = 0; i < reads.size(); ++i) {
    shapes.emplace_back(header.entries[i].name, reads[i].shape);
    entry_of.emplace(header.entries[i].name, i);
  }
  NamedTensors state;
  try {
    state = check_state_fits(module, shapes);
  } catch (const Error& e) {
    fail("load_weights: '", path.string(), "': ", e.what());
  }
  NoGradGuard no_grad;
  for (const auto& [name, t] : state) {
    const io::SafetensorsRead& read = reads[entry_of.at(name)];
    Tensor dst = t;
    if (read.stored == io::stored_type(dst.dtype()) && dst.is_contiguous())
      file.read(read.offset, dst.mutable_raw_data(), static_cast<std::size_t>(dst.numel()) * dtype_size(dst.dtype()));
    else
      dst.copy_(io::read_tensor(file, read.offset, read.stored, read.shape));
  }
  return header.metadata;
}

}  // namespace strata::nn
