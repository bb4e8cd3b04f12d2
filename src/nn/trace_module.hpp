// Tracing a module's forward into a graph (graph::trace) as hybridize and ONNX export do it: on
// zeros of the given shape, without gradients, leaving the module's buffers and the default
// generator as they were.
#pragma once

#include "graph/ir.hpp"
#include "strata/nn/module.hpp"
#include "strata/random.hpp"

namespace strata::nn {

// Undoes what a forward run for tracing did to the module's buffers and the default generator.
class StateGuard {
 public:
  explicit StateGuard(const Module& m);
  ~StateGuard();
  StateGuard(const StateGuard&) = delete;
  StateGuard& operator=(const StateGuard&) = delete;

 private:
  NamedTensors buffers_;
  std::vector<Tensor> saved_;
  Generator::State rng_;
};

// The graph of m's forward for inputs of `shape` in the modules' current modes.
graph::Graph trace_module(Module& m, const Shape& shape, DType dtype);

}  // namespace strata::nn
