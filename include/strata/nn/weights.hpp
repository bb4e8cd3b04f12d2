// Saving and loading a module's weights as safetensors with PyTorch's state_dict names, so a
// file moves between Strata and PyTorch unchanged (tools/torch_weights.py).
//
// Strata records what it knows about the model in the safetensors "__metadata__":
//   strata.model    zoo name, e.g. "lenet-bn"
//   strata.input    one sample's shape C,H,W (or C,D,H,W), e.g. "1,28,28"
//   strata.classes  class names as a JSON list, e.g. ["T-shirt/top", ...]
// A file without them (e.g. written from PyTorch) still loads into a model built by name.
#pragma once
#pragma GCC visibility push(default)

#include <filesystem>

#include "strata/io.hpp"
#include "strata/nn/module.hpp"

namespace strata::nn {

// Writes module.state_dict() (through a temporary file and a rename).
void save_weights(const Module& module, const std::filesystem::path& path, const io::Metadata& metadata = {});

// Loads `path` into `module`: every missing, unexpected or mis-shaped key is reported by name in
// one strata::Error naming the file, and then nothing changes (the file's header is checked
// before any tensor is read). The tensors are then read one at a time into the module's, so the
// weights are never in memory twice. Returns the file's metadata.
io::Metadata load_weights(Module& module, const std::filesystem::path& path);

}  // namespace strata::nn

#pragma GCC visibility pop
