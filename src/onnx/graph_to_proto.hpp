// A traced graph (graph/ir.hpp) written as an ONNX GraphProto: one or more ONNX nodes per graph
// node, parameters and buffers as initializers named by their state_dict keys.
#pragma once

#include <onnx/onnx_pb.h>

#include <string>

#include "graph/ir.hpp"

namespace strata::onnx {

struct GraphNames {
  std::string graph, input, output;
  bool dynamic_batch = false;  // dimension 0 of the input and output is the symbol "batch"
  int opset = 17;              // of the default domain: which operators exist (HardSwish from 14)
};

// Fills `out` with `graph`, which must hold no training-mode op (batch norm on batch statistics,
// dropout, counter updates) and no eager Call. FoldBatchNorm nodes are computed now and their
// outputs written as initializers (named after the convolution's weight and bias). Throws a
// strata::Error naming the node (its layer path and type) that ONNX cannot express.
void graph_to_proto(const graph::Graph& graph, const GraphNames& names, ::onnx::GraphProto& out);

}  // namespace strata::onnx
