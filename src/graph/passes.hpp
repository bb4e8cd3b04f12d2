// Graph passes (onnxruntime's graph transformers, torch.fx passes): each rewrites a Graph into one
// that computes the same values, in a file of its own with tests of its own
// (tests/graph/passes_test.cpp: graph in, graph out, and the run equal to the unoptimized one).
// docs/graph.md explains how to add one.
#pragma once

#include "graph/ir.hpp"

namespace strata::graph {

// What the graph is optimized for. Inference: the graph's outputs need no gradient, so a batch
// norm in evaluation mode may fold into the convolution before it (the folded weights carry no
// gradient back to the parameters). Training: every op stays differentiable as traced.
struct OptimizeOptions {
  bool inference = false;
};

// Runs the passes below in order: remove_dropout, fold_batch_norm and fuse_hard_swish
// (inference), fuse_epilogues, fuse_depthwise and pad_channels (inference), eliminate_dead_code,
// group_readers (inference).
void optimize(Graph& graph, const OptimizeOptions& options);

// Dropout in evaluation mode (or with p = 0) is the identity: its uses read its input instead.
int remove_dropout(Graph& graph);

// Conv -> BatchNorm in evaluation mode, where the batch norm is the convolution's only reader:
// one convolution on weights and bias folded from both (a FoldBatchNorm node, which the program
// runs once and again only when a parameter or statistic changes). The batch norm's epilogue
// moves to the convolution.
int fold_batch_norm(Graph& graph);

// x * hardsigmoid(x) with PyTorch's hard-sigmoid (alpha 1/6, beta 1/2; how PyTorch's exporter
// writes hard-swish below opset 14), where the hard-sigmoid has no other reader: one HardSwish
// activation, which fuse_epilogues can then move into the convolution before it. Inference only:
// at x = -3 and 3 the two pick different gradients (-0.5 and 0, 1.5 and 1).
int fuse_hard_swish(Graph& graph);

// A convolution's output of C channels, C not a multiple of 16 and padding adding at most half
// (MobileNetV2's 24, not 10), computed with zero channels up to the next multiple of 16, where
// every reader is an ungrouped convolution reading it as its input or its residual (whose output
// is then padded too): the producers' weights and biases get zero filters, the readers' weights
// zero input channels (Pad nodes on the state, which the program runs once). The values then stay
// in the blocked layout of 16-channel blocks, instead of being converted to and from plain NCHW
// around each of those convolutions. The padded channels hold the activation of 0 (finite), which
// the readers' zero weights ignore; the graph's output is never padded. Inference only. Returns
// how many values it padded.
int pad_channels(Graph& graph);

// Moves the op after a Conv, BatchNorm or Add into its epilogue when it is that value's only
// reader: an Add of a same-shaped tensor (the residual; Conv and BatchNorm), then an Activation,
// then a Pool (Conv and BatchNorm). Reorders nodes where a residual is computed after the node
// that now reads it.
int fuse_epilogues(Graph& graph);

// A 2-D ungrouped 1x1 convolution (stride 1, no padding, at most an activation after it) whose
// output only a depthwise 3x3 convolution reads (groups = channels, padding 1, stride 1 or 2, at
// most an activation after it): one convolution with the depthwise one in its epilogue
// (strata::DepthwiseConv; MobileNet's expansion and depthwise convolution). It runs where the
// depthwise convolution ran. Inference only: only inference kernels take the pair (oneDNN's
// depthwise post-op); elsewhere the op runs the two convolutions. Returns how many pairs fused.
int fuse_depthwise(Graph& graph);

// A value read by several nodes (an Inception block's input, read by its four paths): its readers
// that need nothing else not yet run move up to run right after the node making it, in their
// order, while the value is still in the cache; at batch 64 a Winograd convolution's scratch
// between two of them otherwise evicts it. Graphs with in-place updates or eager calls keep their
// order. Returns how many nodes changed place.
int group_readers(Graph& graph);

// Removes nodes whose outputs nothing reads and that change nothing else (batch norms in training,
// dropout in training, in-place updates and eager calls stay), then unused values.
int eliminate_dead_code(Graph& graph);

// ---- Helpers for passes ----

// Every input that reads `from` reads `to` instead (and the graph's output, when it is `from`).
void replace_uses(Graph& graph, ValueId from, ValueId to);

// Orders the nodes so that each runs after the producers of its inputs, keeping the traced order
// wherever it already does.
void sort_nodes(Graph& graph);

}  // namespace strata::graph
