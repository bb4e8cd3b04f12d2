// Layer-by-layer summary of a model for one input shape (what `strata summary` prints).
#pragma once
#pragma GCC visibility push(default)

#include <string>
#include <vector>

#include "strata/nn/module.hpp"

namespace strata::nn {

struct LayerSummary {
  std::string name;  // dotted path, e.g. "1.0.conv1"
  std::string type;  // "Conv2d"
  int depth = 0;     // nesting level (0 for children of the root)
  bool leaf = true;  // has no child modules
  Shape output;      // output shape for the summarised input
  int64_t params = 0;  // parameters of this module and its children
  int64_t macs = 0;    // multiply-accumulates of the forward pass (Conv and Linear layers)
};

struct ModelSummary {
  Shape input, output;
  std::vector<LayerSummary> layers;  // in call order, each parent just before its first child
  int64_t params = 0;
  int64_t macs = 0;
  int64_t activation_bytes = 0;  // f32 outputs of every leaf layer, for one sample
};

// Runs one forward pass (evaluation mode, no autograd, zeros as input) and records every layer.
// An input that cannot flow through the model raises LayerError naming the layer and shapes.
ModelSummary summarize(Module& model, const Shape& input);

// The summary as an aligned text table with totals.
std::string format_summary(const ModelSummary& summary);

}  // namespace strata::nn

#pragma GCC visibility pop
