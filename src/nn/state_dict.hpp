// Checking that named shapes fit a module's state_dict(), shared by Module::load_state_dict and
// load_weights (which reads a file's tensors one at a time, after checking its header).
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "strata/nn/module.hpp"

namespace strata::nn {

// Throws one strata::Error listing every missing, unexpected, mis-shaped and duplicated key when
// `given` (names with their shapes; nullopt for an undefined tensor) does not fit
// module.state_dict() exactly; returns that state_dict (the tensors to load into).
NamedTensors check_state_fits(const Module& module,
                              const std::vector<std::pair<std::string, std::optional<Shape>>>& given);

}  // namespace strata::nn
