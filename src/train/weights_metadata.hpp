// Parsing the weights metadata (see strata/train/model_file.hpp) of a file already read:
// shared by weights files and checkpoints.
#pragma once

#include <string>

#include "strata/io.hpp"
#include "strata/train/model_file.hpp"

namespace strata::train {

// `where` prefixes every message ("'run/model.safetensors': ").
WeightsInfo parse_weights_info(const io::Metadata& metadata, const std::string& where,
                               const std::string& model_override);

}  // namespace strata::train
