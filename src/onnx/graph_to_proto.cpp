#include "onnx/graph_to_proto.hpp"

#include <cmath>
#include <cstring>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ops/pad.hpp"
#include "strata/autograd.hpp"
#include "strata/error.hpp"

namespace strata::onnx {
namespace {

namespace pb = ::onnx;
using graph::Graph;
using graph::Node;
using graph::OpKind;
using graph::ValueId;

// Dims of a window op spelled out for each of nd spatial dimensions (`fallback` where empty).
std::vector<int64_t> spell(const Dims& d, int nd, int64_t fallback) {
  std::vector<int64_t> out(nd, fallback);
  for (int i = 0; i < nd && !d.empty(); ++i) out[i] = d.size() == 1 ? d[0] : d[i];
  return out;
}

// ONNX pads: every dimension's start, then every dimension's end.
std::vector<int64_t> symmetric_pads(const std::vector<int64_t>& pad) {
  std::vector<int64_t> out = pad;
  out.insert(out.end(), pad.begin(), pad.end());
  return out;
}

void set_ints(pb::NodeProto& n, const char* name, const std::vector<int64_t>& values) {
  pb::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INTS);
  for (int64_t v : values) a->add_ints(v);
}

void set_int(pb::NodeProto& n, const char* name, int64_t value) {
  pb::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::INT);
  a->set_i(value);
}

void set_float(pb::NodeProto& n, const char* name, double value) {
  pb::AttributeProto* a = n.add_attribute();
  a->set_name(name);
  a->set_type(pb::AttributeProto::FLOAT);
  a->set_f(static_cast<float>(value));
}

void describe_tensor(pb::ValueInfoProto& v, const std::string& name, const Shape& shape, bool dynamic_batch) {
  v.set_name(name);
  pb::TypeProto_Tensor* t = v.mutable_type()->mutable_tensor_type();
  t->set_elem_type(pb::TensorProto::FLOAT);
  pb::TensorShapeProto* s = t->mutable_shape();
  for (int i = 0; i < shape.ndim(); ++i) {
    if (i == 0 && dynamic_batch)
      s->add_dim()->set_dim_param("batch");
    else
      s->add_dim()->set_dim_value(shape[i]);
  }
}

// The ONNX operator of an activation (HardSwish from opset 14 on; before, export writes
// x * HardSigmoid(x)).
const char* activation_op(Activation a, int opset) {
  switch (a.kind) {
    case ActivationKind::Relu:
      return "Relu";
    case ActivationKind::Sigmoid:
      return "Sigmoid";
    case ActivationKind::Tanh:
      return "Tanh";
    case ActivationKind::Relu6:
    case ActivationKind::Clamp:
      return "Clip";
    case ActivationKind::LeakyRelu:
      return "LeakyRelu";
    case ActivationKind::HardSigmoid:
      return "HardSigmoid";
    case ActivationKind::HardSwish:
      return opset >= 14 ? "HardSwish" : "Mul";
  }
  return "?";
}

// Writes one graph into a GraphProto, node by node.
class Writer {
 public:
  Writer(const Graph& graph, const GraphNames& names, pb::GraphProto& out) : g_(graph), names_(names), out_(out) {
    value_names_.resize(g_.values.size());
  }

  void write() {
    STRATA_CHECK(g_.input != graph::kNoValue && g_.output != graph::kNoValue,
                 "onnx export: the graph has no input or output");
    for (std::size_t i = 0; i < g_.values.size(); ++i) {
      const graph::Value& v = g_.values[i];
      STRATA_CHECK(v.dtype == DType::F32, "onnx export: value '", describe(static_cast<ValueId>(i)), "' is ",
                   dtype_name(v.dtype), "; export writes f32 models (convert with module.to(DType::F32))");
    }
    STRATA_CHECK(names_.input != names_.output, "onnx export: the input and the output need two names, got '",
                 names_.input, "' for both");
    out_.set_name(names_.graph);
    value_names_[g_.input] = claim(names_.input);
    claim(names_.output);
    describe_tensor(*out_.add_input(), names_.input, g_.values[g_.input].shape, names_.dynamic_batch);
    for (const Node& n : g_.nodes) write_node(n);
    // The output: a value some node made (renamed there), or the input or a parameter itself.
    if (value_names_[g_.output] != names_.output) {
      const std::string source = name(g_.output);
      emit("Identity", "", "", {source}, names_.output);
    }
    describe_tensor(*out_.add_output(), names_.output, g_.values[g_.output].shape, names_.dynamic_batch);
  }

 private:
  const Graph& g_;
  const GraphNames& names_;
  pb::GraphProto& out_;
  std::vector<std::string> value_names_;  // "" until written
  std::unordered_set<std::string> used_;

  // `base`, or base_1, base_2, ... where taken.
  std::string claim(const std::string& base) {
    std::string name = base;
    for (int k = 1; !used_.insert(name).second; ++k) name = base + "_" + std::to_string(k);
    return name;
  }

  std::string describe(ValueId id) const {
    const graph::Value& v = g_.values[id];
    return v.name.empty() ? detail::cat("%", id) : v.name;  // (not "%" + std::to_string: GCC 12 warns falsely)
  }

  static std::string where(const Node& n) {
    return n.scope.empty() ? "the model's own forward (" + n.layer + ")" : "layer '" + n.scope + "' (" + n.layer + ")";
  }

  // "/features.0/Conv": a node's name, from its module's path.
  std::string node_base(const Node& n, const char* op_type) const {
    return "/" + n.scope + (n.scope.empty() ? "" : "/") + op_type;
  }

  // The name of a value, writing a referenced tensor on first use: a parameter or buffer as an
  // initializer (the model's state), any other tensor the forward read as a Constant node.
  std::string name(ValueId id) {
    if (!value_names_[id].empty()) return value_names_[id];
    const graph::Value& v = g_.values[id];
    STRATA_CHECK(graph::is_leaf(v.kind), "onnx export: internal error: value %", id, " is read before it is made");
    value_names_[id] = v.kind == graph::ValueKind::Constant
                           ? constant_node("/Constant", "", v.tensor)
                           : initializer(v.name.empty() ? "constant" : v.name, v.tensor);
    return value_names_[id];
  }

  static void fill_tensor(pb::TensorProto& p, const std::string& what, const Tensor& tensor) {
    const Tensor t = tensor.detach().contiguous();
    STRATA_CHECK(t.dtype() == DType::F32, "onnx export: tensor '", what, "' is ", dtype_name(t.dtype()),
                 "; export writes f32 models (convert with module.to(DType::F32))");
    p.set_data_type(pb::TensorProto::FLOAT);
    for (int64_t d : t.shape()) p.add_dims(d);
    p.set_raw_data(t.data<float>(), static_cast<std::size_t>(t.numel()) * sizeof(float));
  }

  std::string initializer(const std::string& base, const Tensor& tensor) {
    pb::TensorProto* p = out_.add_initializer();
    const std::string n = claim(base);
    p->set_name(n);
    fill_tensor(*p, base, tensor);
    return n;
  }

  std::string int64_initializer(const std::string& base, const std::vector<int64_t>& values) {
    pb::TensorProto* p = out_.add_initializer();
    const std::string n = claim(base);
    p->set_name(n);
    p->set_data_type(pb::TensorProto::INT64);
    p->add_dims(static_cast<int64_t>(values.size()));
    p->set_raw_data(values.data(), values.size() * sizeof(int64_t));
    return n;
  }

  pb::NodeProto& emit(const char* op_type, const std::string& node_name, const std::string& doc,
                      const std::vector<std::string>& inputs, const std::string& output) {
    pb::NodeProto* n = out_.add_node();
    n->set_op_type(op_type);
    n->set_name(claim(node_name.empty() ? std::string("/") + op_type : node_name));
    if (!doc.empty()) n->set_doc_string(doc);
    for (const std::string& i : inputs) n->add_input(i);
    n->add_output(output);
    return *n;
  }

  // A node of op_type for graph node n: named after n's module; its output is `output` when given
  // (n's result), else a fresh intermediate.
  pb::NodeProto& emit_for(const Node& n, const char* op_type, const std::vector<std::string>& inputs,
                          std::string output = "") {
    const std::string node_name = node_base(n, op_type);
    if (output.empty()) output = claim(node_name + "_output_0");
    return emit(op_type, node_name, n.layer, inputs, output);
  }

  // The name n's result gets: the graph's output name for the graph's output.
  std::string result_name(const Node& n, const char* op_type) {
    const ValueId out = n.output();
    std::string result = out == g_.output ? names_.output : claim(node_base(n, op_type) + "_output_0");
    value_names_[out] = result;
    return result;
  }

  // Writes n's main op (op_type over inputs), then its epilogue: the result + residual, the
  // activation, the pooling, each an ONNX node of its own. Returns the main op's node.
  pb::NodeProto& emit_with_epilogue(const Node& n, const char* op_type, const std::vector<std::string>& inputs) {
    const graph::EpilogueAttrs& e = n.epilogue;
    const std::optional<Activation> dw_activation = e.depthwise ? e.depthwise->activation : std::nullopt;
    const char* last = e.pool         ? (e.pool->mode == PoolMode::Max ? "MaxPool" : "AveragePool")
                       : dw_activation ? activation_op(*dw_activation, names_.opset)
                       : e.depthwise  ? "Conv"
                       : e.activation ? activation_op(*e.activation, names_.opset)
                       : e.residual   ? "Add"
                                      : op_type;
    const std::string result = result_name(n, last);
    const bool alone = e.empty();
    pb::NodeProto& main = emit_for(n, op_type, inputs, alone ? result : "");
    std::string x = main.output(0);
    if (e.residual) {
      const bool final_step = !e.activation && !e.pool;
      x = emit_for(n, "Add", {x, name(n.inputs.back())}, final_step ? result : "").output(0);
    }
    if (e.activation) x = emit_activation(n, *e.activation, x, e.pool || e.depthwise ? "" : result);
    if (e.pool) {
      const Shape& s = g_.values[n.output()].shape;
      emit_pool(n, *e.pool, s.ndim() - 2, x, result);
    }
    if (e.depthwise) emit_depthwise(n, *e.depthwise, x, result);
    return main;
  }

  // An epilogue's depthwise convolution of x: a grouped Conv, then its activation.
  void emit_depthwise(const Node& n, const graph::DepthwiseAttrs& d, const std::string& x, const std::string& output) {
    const std::size_t at = n.inputs.size() - n.epilogue.input_count();
    std::vector<std::string> inputs{x, name(n.inputs[at])};
    if (n.inputs[at + 1] != graph::kNoValue) inputs.push_back(name(n.inputs[at + 1]));
    pb::NodeProto& conv = emit_for(n, "Conv", inputs, d.activation ? "" : output);
    set_ints(conv, "kernel_shape", {3, 3});
    set_ints(conv, "strides", {d.stride, d.stride});
    set_ints(conv, "pads", {1, 1, 1, 1});
    set_int(conv, "group", g_.values[n.inputs[at]].shape[0]);
    if (d.activation) emit_activation(n, *d.activation, conv.output(0), output);
  }

  // The activation `kind` of x as an ONNX node of n (relu6 and clamp as Clip between Constant
  // bounds, "" for an absent one; hardswish before opset 14 as x * HardSigmoid(x)); returns its
  // output.
  std::string emit_activation(const Node& n, Activation kind, const std::string& x, const std::string& output) {
    const char* op = activation_op(kind, names_.opset);
    std::vector<std::string> inputs{x};
    if (kind.kind == ActivationKind::Relu6 || kind.kind == ActivationKind::Clamp) {
      const bool relu6 = kind.kind == ActivationKind::Relu6;
      for (double bound : {relu6 ? 0.0 : kind.alpha, relu6 ? 6.0 : kind.beta})
        inputs.push_back(std::isinf(bound) ? "" : constant_node(node_base(n, "Constant"), n.layer, full({}, bound)));
      while (inputs.back().empty()) inputs.pop_back();
    }
    if (kind.kind == ActivationKind::HardSwish && names_.opset < 14) {
      pb::NodeProto& gate = emit_for(n, "HardSigmoid", {x});
      set_float(gate, "alpha", 1.0 / 6.0);
      set_float(gate, "beta", 0.5);
      inputs.push_back(gate.output(0));
    }
    pb::NodeProto& node = emit_for(n, op, inputs, output);
    if (kind.kind == ActivationKind::LeakyRelu) set_float(node, "alpha", kind.alpha);
    if (kind.kind == ActivationKind::HardSigmoid) {
      set_float(node, "alpha", kind.alpha);
      set_float(node, "beta", kind.beta);
    }
    return node.output(0);
  }

  void emit_pool(const Node& n, const Pooling& p, int nd, const std::string& x, const std::string& output) {
    const PoolOptions& o = p.options;
    const std::vector<int64_t> kernel = spell(o.kernel, nd, 1);
    pb::NodeProto& node = emit_for(n, p.mode == PoolMode::Max ? "MaxPool" : "AveragePool", {x}, output);
    set_ints(node, "kernel_shape", kernel);
    std::vector<int64_t> stride = kernel;
    if (!o.stride.empty()) stride = spell(o.stride, nd, 1);
    set_ints(node, "strides", stride);
    set_ints(node, "pads", symmetric_pads(spell(o.padding, nd, 0)));
    if (o.ceil_mode) set_int(node, "ceil_mode", 1);
    if (p.mode == PoolMode::Avg) set_int(node, "count_include_pad", o.count_include_pad ? 1 : 0);
  }

  // Inputs of n from first to last (an optional input that is absent: ""), the residual excluded.
  std::vector<std::string> main_inputs(const Node& n) {
    std::vector<std::string> in;
    const std::size_t count = n.inputs.size() - n.epilogue.input_count();
    for (std::size_t i = 0; i < count; ++i) in.push_back(n.inputs[i] == graph::kNoValue ? "" : name(n.inputs[i]));
    return in;
  }

  void write_node(const Node& n) {
    switch (n.op) {
      case OpKind::Conv:
        return write_conv(n);
      case OpKind::BatchNorm:
        return write_batch_norm(n);
      case OpKind::Activation: {
        const Activation kind = n.get<graph::ActivationAttrs>().kind;
        emit_activation(n, kind, name(n.inputs[0]), result_name(n, activation_op(kind, names_.opset)));
        return;
      }
      case OpKind::Add:
        emit_with_epilogue(n, "Add", main_inputs(n));
        return;
      case OpKind::Binary: {
        static const char* kOps[] = {"Sub", "Mul", "Div"};
        const char* op = kOps[static_cast<int>(n.get<graph::BinaryAttrs>().kind)];
        emit_for(n, op, main_inputs(n), result_name(n, op));
        return;
      }
      case OpKind::Scalar:
        return write_scalar(n);
      case OpKind::Pool: {
        const graph::PoolAttrs& a = n.get<graph::PoolAttrs>();
        const char* op = a.pooling.mode == PoolMode::Max ? "MaxPool" : "AveragePool";
        emit_pool(n, a.pooling, a.nd, name(n.inputs[0]), result_name(n, op));
        return;
      }
      case OpKind::AdaptiveAvgPool:
        return write_adaptive_pool(n);
      case OpKind::Linear:
        return write_linear(n);
      case OpKind::Cat: {
        pb::NodeProto& node = emit_for(n, "Concat", main_inputs(n), result_name(n, "Concat"));
        set_int(node, "axis", normalize_dim(n.get<graph::CatAttrs>().dim, g_.values[n.output()].shape.ndim(), "cat"));
        return;
      }
      case OpKind::Reshape:
        return write_reshape(n);
      case OpKind::Permute: {
        const std::vector<int>& dims = n.get<graph::PermuteAttrs>().dims;
        set_ints(emit_for(n, "Transpose", main_inputs(n), result_name(n, "Transpose")), "perm",
                 std::vector<int64_t>(dims.begin(), dims.end()));
        return;
      }
      case OpKind::Slice: {
        const graph::SliceAttrs& a = n.get<graph::SliceAttrs>();
        const std::string base = node_base(n, "Slice").substr(1);
        emit_for(n, "Slice",
                 {name(n.inputs[0]), int64_initializer(base + ".starts", {a.start}),
                  int64_initializer(base + ".ends", {a.end}), int64_initializer(base + ".axes", {a.dim}),
                  int64_initializer(base + ".steps", {a.step})},
                 result_name(n, "Slice"));
        return;
      }
      case OpKind::Pad:
        return write_pad(n);
      case OpKind::Mean: {
        const graph::MeanAttrs& a = n.get<graph::MeanAttrs>();
        pb::NodeProto& node = emit_for(n, "ReduceMean", main_inputs(n), result_name(n, "ReduceMean"));
        set_ints(node, "axes", std::vector<int64_t>(a.dims.begin(), a.dims.end()));
        set_int(node, "keepdims", a.keepdim ? 1 : 0);
        return;
      }
      case OpKind::Dropout:
        STRATA_CHECK(!n.get<graph::DropoutAttrs>().training, "onnx export: ", where(n),
                     " runs dropout in training mode; export writes the model in evaluation mode");
        emit_for(n, "Identity", main_inputs(n), result_name(n, "Identity"));
        return;
      case OpKind::Softmax: {
        const graph::SoftmaxAttrs& a = n.get<graph::SoftmaxAttrs>();
        const char* op = a.log ? "LogSoftmax" : "Softmax";
        pb::NodeProto& node = emit_for(n, op, main_inputs(n), result_name(n, op));
        set_int(node, "axis", normalize_dim(a.dim, g_.values[n.output()].shape.ndim(), "softmax"));
        return;
      }
      case OpKind::FoldBatchNorm:
        return write_folded(n);
      case OpKind::AddInPlace:
        fail("onnx export: ", where(n),
             " updates a buffer in place (a training-mode counter); export writes "
             "the model in evaluation mode");
      case OpKind::Call:
        fail("onnx export: ", where(n), " cannot be exported: the trace could not see into it (", n.note,
             "), so it has no graph to write. Write its forward with Strata's ops on its input, parameters "
             "and buffers");
    }
  }

  void write_conv(const Node& n) {
    const graph::ConvAttrs& a = n.get<graph::ConvAttrs>();
    std::vector<std::string> in = main_inputs(n);
    if (in.size() == 3 && in[2].empty()) in.pop_back();
    pb::NodeProto& node = emit_with_epilogue(n, "Conv", in);
    const Shape& w = g_.values[n.inputs[1]].shape;
    set_ints(node, "kernel_shape", std::vector<int64_t>(w.begin() + 2, w.end()));
    set_ints(node, "strides", spell(a.options.stride, a.nd, 1));
    set_ints(node, "pads", symmetric_pads(spell(a.options.padding, a.nd, 0)));
    set_ints(node, "dilations", spell(a.options.dilation, a.nd, 1));
    set_int(node, "group", a.options.groups);
  }

  void write_batch_norm(const Node& n) {
    const graph::BatchNormAttrs& a = n.get<graph::BatchNormAttrs>();
    STRATA_CHECK(!a.training, "onnx export: ", where(n),
                 " normalizes with batch statistics (training mode); export "
                 "writes the model in evaluation mode");
    std::vector<std::string> in = main_inputs(n);
    STRATA_CHECK(in.size() == 5 && !in[3].empty() && !in[4].empty(), "onnx export: ", where(n),
                 " has no running statistics (track_running_stats off), so in evaluation mode it normalizes with "
                 "batch statistics, which ONNX's BatchNormalization cannot express");
    const int64_t channels = g_.values[n.inputs[0]].shape[1];
    const std::string base = n.scope.empty() ? "batch_norm" : n.scope;
    if (in[1].empty()) in[1] = initializer(base + ".weight", ones({channels}));
    if (in[2].empty()) in[2] = initializer(base + ".bias", zeros({channels}));
    pb::NodeProto& node = emit_with_epilogue(n, "BatchNormalization", in);
    set_float(node, "epsilon", a.eps);
    set_float(node, "momentum", 1.0 - a.momentum);  // ONNX's momentum weighs the running value
  }

  // A Constant node named `node_name` holding `tensor`; returns its output. Scalars and tensors
  // the forward read from outside the model are written so (as PyTorch writes them), not as
  // initializers, which an importer would take for the model's state.
  std::string constant_node(const std::string& node_name, const std::string& doc, const Tensor& tensor) {
    const std::string output = claim(node_name + "_output_0");
    pb::AttributeProto* a = emit("Constant", node_name, doc, {}, output).add_attribute();
    a->set_name("value");
    a->set_type(pb::AttributeProto::TENSOR);
    fill_tensor(*a->mutable_t(), node_name, tensor);
    return output;
  }

  void write_scalar(const Node& n) {
    const graph::ScalarAttrs& a = n.get<graph::ScalarAttrs>();
    const std::string x = name(n.inputs[0]);
    const std::string s = constant_node(node_base(n, "Constant"), n.layer, full({}, a.value));
    switch (a.kind) {
      case graph::ScalarKind::Add:
        emit_for(n, "Add", {x, s}, result_name(n, "Add"));
        return;
      case graph::ScalarKind::Mul:
        emit_for(n, "Mul", {x, s}, result_name(n, "Mul"));
        return;
      case graph::ScalarKind::ReverseSub:
        emit_for(n, "Sub", {s, x}, result_name(n, "Sub"));
        return;
      case graph::ScalarKind::ReverseDiv:
        emit_for(n, "Div", {s, x}, result_name(n, "Div"));
        return;
    }
  }

  void write_adaptive_pool(const Node& n) {
    const Shape& in = g_.values[n.inputs[0]].shape;
    const Shape& out = g_.values[n.output()].shape;
    const int nd = in.ndim() - 2;
    bool global = true, even = true;
    std::vector<int64_t> kernel(nd);
    for (int i = 0; i < nd; ++i) {
      global = global && out[2 + i] == 1;
      even = even && in[2 + i] % out[2 + i] == 0;
      kernel[i] = in[2 + i] / out[2 + i];
    }
    if (global) {
      emit_for(n, "GlobalAveragePool", {name(n.inputs[0])}, result_name(n, "GlobalAveragePool"));
      return;
    }
    // Output cells of equal windows: an average pooling with stride = kernel = input / output.
    STRATA_CHECK(even, "onnx export: ", where(n), " pools ", in, " to ", out,
                 " adaptively with windows of unequal sizes, which ONNX has no operator for; export at an input "
                 "size that is a multiple of the output size");
    pb::NodeProto& node = emit_for(n, "AveragePool", {name(n.inputs[0])}, result_name(n, "AveragePool"));
    set_ints(node, "kernel_shape", kernel);
    set_ints(node, "strides", kernel);
  }

  void write_linear(const Node& n) {
    const std::vector<std::string> in = main_inputs(n);
    const bool bias = in.size() == 3 && !in[2].empty();
    if (g_.values[n.inputs[0]].shape.ndim() == 2) {
      std::vector<std::string> gemm_inputs = {in[0], in[1]};
      if (bias) gemm_inputs.push_back(in[2]);
      set_int(emit_for(n, "Gemm", gemm_inputs, result_name(n, "Gemm")), "transB", 1);
      return;
    }
    // (*, in) x (out, in)^T: MatMul with the transposed weight, then the bias.
    pb::NodeProto& transpose = emit_for(n, "Transpose", {in[1]});
    set_ints(transpose, "perm", {1, 0});
    const std::string wt = transpose.output(0);
    if (!bias) {
      emit_for(n, "MatMul", {in[0], wt}, result_name(n, "MatMul"));
      return;
    }
    const std::string product = emit_for(n, "MatMul", {in[0], wt}).output(0);
    emit_for(n, "Add", {product, in[2]}, result_name(n, "Add"));
  }

  // Pad (opset 11 on): the pads and the constant as inputs, the mode as ONNX names it.
  void write_pad(const Node& n) {
    const graph::PadAttrs& a = n.get<graph::PadAttrs>();
    const std::string base = node_base(n, "Pad").substr(1);
    std::vector<std::string> inputs{name(n.inputs[0]), int64_initializer(base + ".pads", a.pads)};
    if (a.mode == PadMode::Constant && a.value != 0.0)
      inputs.push_back(constant_node(node_base(n, "Constant"), n.layer, full({}, a.value)));
    pb::NodeProto& node = emit_for(n, "Pad", inputs, result_name(n, "Pad"));
    pb::AttributeProto* mode = node.add_attribute();
    mode->set_name("mode");
    mode->set_type(pb::AttributeProto::STRING);
    mode->set_s(pad_mode_name(a.mode));
  }

  void write_reshape(const Node& n) {
    const Shape& in = g_.values[n.inputs[0]].shape;
    const Shape& out = g_.values[n.output()].shape;
    // (N, ...) -> (N, rest): Flatten, as PyTorch exports nn.Flatten.
    if (in.ndim() >= 2 && out.ndim() == 2 && out[0] == in[0]) {
      set_int(emit_for(n, "Flatten", {name(n.inputs[0])}, result_name(n, "Flatten")), "axis", 1);
      return;
    }
    std::vector<int64_t> target(out.begin(), out.end());
    // Where the batch is kept, 0 copies it from the input, so any batch runs the file.
    if (names_.dynamic_batch && in.ndim() > 0 && out.ndim() > 0 && out[0] == in[0]) target[0] = 0;
    const std::string shape = int64_initializer(node_base(n, "Reshape").substr(1) + ".shape", target);
    emit_for(n, "Reshape", {name(n.inputs[0]), shape}, result_name(n, "Reshape"));
  }

  // The folded weight and bias, computed now from the parameters and statistics, as initializers
  // named after the convolution's weight and bias.
  void write_folded(const Node& n) {
    const graph::FoldAttrs& a = n.get<graph::FoldAttrs>();
    auto tensor = [&](std::size_t i) {
      return n.inputs[i] == graph::kNoValue ? Tensor() : g_.values[n.inputs[i]].tensor;
    };
    NoGradGuard no_grad;
    const FoldedConv f = fold_batch_norm(tensor(0), tensor(1), tensor(2), tensor(3), tensor(4), tensor(5), a.eps);
    const std::string weight_name = g_.values[n.inputs[0]].name;
    const std::string bias_name = n.inputs[1] != graph::kNoValue
                                      ? g_.values[n.inputs[1]].name
                                      : weight_name.substr(0, weight_name.rfind('.') + 1) + "bias";
    value_names_[n.outputs[0]] = initializer(weight_name, f.weight);
    value_names_[n.outputs[1]] = initializer(bias_name, f.bias);
  }
};

}  // namespace

void graph_to_proto(const Graph& graph, const GraphNames& names, pb::GraphProto& out) {
  Writer(graph, names, out).write();
}

}  // namespace strata::onnx
