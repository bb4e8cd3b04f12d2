// Parsing the weights metadata (see strata/train/model_file.hpp) of a file already read, shared by
// weights files and checkpoints; and checking a model against the input the metadata declares.
#pragma once

#include <string>

#include "strata/io.hpp"
#include "strata/nn/module.hpp"
#include "strata/train/model_file.hpp"

namespace strata::train {

// `where` prefixes every message ("'run/model.safetensors': ").
WeightsInfo parse_weights_info(const io::Metadata& metadata, const std::string& where,
                               const std::string& model_override);

// The output shape of one example of `input` (C,H,W or C,D,H,W) through `model` in evaluation
// mode (no state changes, no random draws; its mode is restored), so that a model that cannot
// take the input fails with a clear message before data of that size is loaded. `name` is the
// model's name in messages, `hint` what to do when the input does not fit.
Shape output_shape_for(nn::Module& model, const Shape& input, const std::string& name, const std::string& hint);

}  // namespace strata::train
