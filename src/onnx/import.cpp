// onnx::load and onnx::from_bytes: an ONNX file read, checked and made an OnnxModel. Every
// declared size is checked against the bytes that back it before anything is allocated, and
// every name a node reads against what came before it, so a malformed file is one error naming
// what is wrong.
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <set>
#include <utility>

#include "graph/trace.hpp"
#include "io/file.hpp"
#include "onnx/onnx_model.hpp"
#include "strata/error.hpp"
#include "strata/nn/init.hpp"
#include "strata/onnx.hpp"

namespace strata::onnx {

namespace pb = ::onnx;

// ---- Constants ----

RunValue constant_value(const pb::TensorProto& t, const std::string& where) {
  STRATA_CHECK(t.data_location() != pb::TensorProto::EXTERNAL, "onnx import: tensor '", detail::printable(t.name()), "' of ", where,
               " keeps its data in an external file; import reads models whose tensors are inside the file "
               "(save them with onnx.save(model, path, save_as_external_data=False))");
  STRATA_CHECK(t.dims_size() <= kMaxDims, "onnx import: tensor '", detail::printable(t.name()), "' of ", where, " has ", t.dims_size(),
               " dimensions; Strata's tensors have at most ", kMaxDims);
  int64_t count = 1;
  std::vector<int64_t> dims;
  for (int64_t d : t.dims()) {
    STRATA_CHECK(d >= 0 && (d == 0 || count <= std::numeric_limits<int32_t>::max() / d), "onnx import: tensor '",
                 t.name(), "' of ", where, " declares dimensions that are negative or too large");
    count *= d;
    dims.push_back(d);
  }
  const Shape shape{std::span<const int64_t>(dims)};
  const auto n = static_cast<std::size_t>(count);
  const std::string& raw = t.raw_data();
  auto check_size = [&](std::size_t have) {
    STRATA_CHECK(have == n, "onnx import: tensor '", detail::printable(t.name()), "' of ", where, " declares ", n, " values (shape ",
                 shape, ") but holds ", have);
  };
  switch (t.data_type()) {
    case pb::TensorProto::FLOAT: {
      if (t.has_raw_data()) {
        check_size(raw.size() / sizeof(float));
        STRATA_CHECK(raw.size() % sizeof(float) == 0, "onnx import: tensor '", detail::printable(t.name()), "' has ", raw.size(),
                     " bytes, not a whole number of floats");
        Tensor values = empty(shape);
        std::memcpy(values.mutable_raw_data(), raw.data(), raw.size());
        return RunValue{values};
      }
      check_size(static_cast<std::size_t>(t.float_data_size()));
      return RunValue{from_data(std::span<const float>(t.float_data().data(), n), shape)};
    }
    case pb::TensorProto::DOUBLE: {  // narrowed: Strata's models compute in f32
      std::vector<double> values(t.has_raw_data() ? raw.size() / sizeof(double) : t.double_data_size());
      check_size(values.size());
      if (t.has_raw_data())
        std::memcpy(values.data(), raw.data(), values.size() * sizeof(double));
      else
        std::copy(t.double_data().begin(), t.double_data().end(), values.begin());
      return RunValue{from_data(std::span<const double>(values), shape).to(DType::F32)};
    }
    case pb::TensorProto::INT64:
    case pb::TensorProto::INT32: {
      STRATA_CHECK(shape.ndim() <= 1, "onnx import: integer tensor '", detail::printable(t.name()), "' of ", where, " has shape ", shape,
                   "; import takes integers as scalars and lists (shapes, axes, sizes)");
      RunValue v;
      v.is_ints = true;
      v.scalar = shape.ndim() == 0;
      const bool wide = t.data_type() == pb::TensorProto::INT64;
      if (t.has_raw_data()) {
        const std::size_t size = wide ? sizeof(int64_t) : sizeof(int32_t);
        check_size(raw.size() / size);
        for (std::size_t i = 0; i < n; ++i) {
          if (wide) {
            int64_t x;
            std::memcpy(&x, raw.data() + i * size, size);
            v.ints.push_back(x);
          } else {
            int32_t x;
            std::memcpy(&x, raw.data() + i * size, size);
            v.ints.push_back(x);
          }
        }
      } else if (wide) {
        check_size(static_cast<std::size_t>(t.int64_data_size()));
        v.ints.assign(t.int64_data().begin(), t.int64_data().end());
      } else {
        check_size(static_cast<std::size_t>(t.int32_data_size()));
        v.ints.assign(t.int32_data().begin(), t.int32_data().end());
      }
      return v;
    }
    default:
      fail("onnx import: tensor '", detail::printable(t.name()), "' of ", where, " has ONNX data type ", t.data_type(),
           "; import reads float, double, int64 and int32 tensors");
  }
}

// ---- The module ----

namespace {

// A module of the file's name hierarchy ("1", "1.0", ...), holding state only.
class Scope : public nn::Module {
 public:
  Scope() : Module("OnnxScope") {}
  Tensor forward(const Tensor&) override { fail("onnx import: a name scope of an imported model has no forward"); }
};

}  // namespace

OnnxModel::OnnxModel(std::string name, int opset, std::string input, std::string output,
                     std::vector<ImportedNode> nodes, std::map<std::string, RunValue> constants)
    : Module(name.empty() ? "OnnxModel" : std::move(name)),
      opset_(opset),
      input_(std::move(input)),
      output_(std::move(output)),
      nodes_(std::move(nodes)),
      constants_(std::move(constants)) {
  // Each value goes after the last node that reads or writes it (the output stays).
  std::map<std::string, std::size_t> last;
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    for (const std::string& v : nodes_[i].inputs) last[v] = i;
    for (const std::string& v : nodes_[i].outputs) last[v] = i;
  }
  released_after_.resize(nodes_.size());
  for (const auto& [v, i] : last)
    if (!v.empty() && v != output_) released_after_[i].push_back(v);
}

void OnnxModel::add_state(const std::string& file_name, const std::string& name, const Tensor& tensor, bool parameter) {
  // "a.b.c": tensor "c" of child "b" of child "a", creating the children on the way.
  nn::Module* owner = this;
  std::size_t start = 0;
  for (std::size_t dot; (dot = name.find('.', start)) != std::string::npos; start = dot + 1) {
    const std::string part = name.substr(start, dot - start);
    nn::Module* child = nullptr;
    for (const auto& [child_name, module] : owner->children())
      if (child_name == part) child = module.get();
    if (!child) child = owner->register_module(part, std::make_shared<Scope>()).get();
    owner = child;
  }
  const std::string leaf = name.substr(start);
  state_[file_name] = parameter ? owner->register_parameter(leaf, tensor) : owner->register_buffer(leaf, tensor);
}

Tensor OnnxModel::forward(const Tensor& x) {
  std::map<std::string, RunValue> values = constants_;
  for (const auto& [name, t] : state_) values[name] = RunValue{t};
  values[input_] = RunValue{x};
  for (std::size_t i = 0; i < nodes_.size(); ++i) {
    const ImportedNode& node = nodes_[i];
    // "/layer1/layer1.0/conv1/Conv" names its nodes "layer1/layer1.0/conv1/Conv" (layer "Conv").
    const std::size_t start = node.name.find_first_not_of('/');
    graph::NodeLabel label(start == std::string::npos ? "" : node.name.substr(start), node.op);
    run_node(node, values, is_training(), opset_);
    for (const std::string& v : released_after_[i]) values.erase(v);
  }
  const RunValue& y = values.at(output_);
  STRATA_CHECK(!y.is_ints, "onnx import: the model's output '", output_, "' is integers computed from shapes");
  return y.tensor;
}

// ---- Reading a file ----

namespace {

// Inputs that take weights: Conv's W and B, Gemm's B and C, MatMul's B, BatchNormalization's
// scale and bias. Float initializers read there are parameters; the rest are buffers.
bool reads_weight(const ImportedNode& n, std::size_t input) {
  if (n.op == "Conv" || n.op == "Gemm" || n.op == "BatchNormalization") return input == 1 || input == 2;
  return n.op == "MatMul" && input == 1;
}

// Names that are a tensor and also a scope of another tensor ("a.b" and "a.b.c"), or that have
// empty parts, cannot be split at their dots: those keep their name with '.' as '_'.
std::string state_name(const std::string& name, const std::set<std::string>& scopes) {
  const bool empty_part =
      name.empty() || name.front() == '.' || name.back() == '.' || name.find("..") != std::string::npos;
  if (!empty_part && !scopes.contains(name)) return name;
  std::string flat = name;
  std::replace(flat.begin(), flat.end(), '.', '_');
  return flat.empty() ? "tensor" : flat;
}

int default_opset(const pb::ModelProto& m) {
  int opset = -1;
  for (const pb::OperatorSetIdProto& o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = static_cast<int>(o.version());
  return opset;
}

}  // namespace

namespace {

// ImportOptions::num_classes: new weights for the classifier, the last node with weights (in
// `state`, by file name), of `classes` outputs: Gemm's B ([N, F] with transB, else [F, N]) and C,
// MatMul's B ([F, N]) and the bias an Add after it reads, Conv's W ([N, C, k...]) and B.
void replace_classifier(const std::vector<ImportedNode>& nodes, std::vector<std::pair<std::string, RunValue>>& state,
                        int64_t classes, const std::string& where) {
  auto find_state = [&](const std::string& name) -> Tensor* {
    for (auto& [n, v] : state)
      if (!name.empty() && n == name) return &v.tensor;
    return nullptr;
  };
  auto readers = [&](const std::string& name) {
    int count = 0;
    for (const ImportedNode& n : nodes) count += static_cast<int>(std::count(n.inputs.begin(), n.inputs.end(), name));
    return count;
  };
  auto it = std::find_if(nodes.rbegin(), nodes.rend(), [&](const ImportedNode& n) {
    return (n.op == "Gemm" || n.op == "MatMul" || n.op == "Conv") && n.inputs.size() > 1 && find_state(n.inputs[1]);
  });
  STRATA_CHECK(it != nodes.rend(), where, "no Gemm, MatMul or Conv with weights in the file: no classifier to "
               "replace for num_classes ", classes);
  const ImportedNode& head = *it;
  Tensor& weight = *find_state(head.inputs[1]);
  STRATA_CHECK(readers(head.inputs[1]) == 1, where, head.where(), " is the classifier, but its weights '",
               head.inputs[1], "' are read by other nodes too; they cannot be replaced");
  // The axis of the weight that counts outputs, and the bias (by file name) when there is one.
  int axis = 0;
  std::string bias;
  if (head.op == "Gemm") {
    const auto t = head.attributes.find("transB");
    axis = t != head.attributes.end() && t->second.i() != 0 ? 0 : 1;
    if (head.inputs.size() > 2) bias = head.inputs[2];
  } else if (head.op == "MatMul") {
    axis = 1;
    for (const ImportedNode& n : nodes)
      if (n.op == "Add" && n.inputs.size() == 2 && (n.inputs[0] == head.outputs[0] || n.inputs[1] == head.outputs[0]))
        bias = n.inputs[0] == head.outputs[0] ? n.inputs[1] : n.inputs[0];
  } else {
    const auto g = head.attributes.find("group");
    STRATA_CHECK(g == head.attributes.end() || g->second.i() == 1, where, head.where(),
                 " is the classifier, a grouped convolution; it cannot be replaced");
    if (head.inputs.size() > 2) bias = head.inputs[2];
  }
  STRATA_CHECK(weight.ndim() >= 2, where, head.where(), " has weights of shape ", weight.shape(),
               "; a classifier's have two dimensions or more");
  Shape shape = weight.shape();
  const int64_t old_classes = shape[axis];
  shape[axis] = classes;
  Tensor fresh = empty(shape);
  nn::init::xavier_uniform(fresh);
  weight = fresh;
  if (Tensor* b = find_state(bias); b != nullptr && b->numel() == old_classes && readers(bias) == 1)
    *b = zeros({classes});
}

pb::ModelProto parse(const void* data, std::size_t size, const std::string& where) {
  pb::ModelProto model;
  STRATA_CHECK(size < (std::size_t{1} << 31) && model.ParseFromArray(data, static_cast<int>(size)), where,
               "not an ONNX model (the protobuf does not parse)");
  return model;
}

// The message's contents given back to the allocator (its name kept): an initializer once the
// model holds it as a tensor, so that loading holds each tensor's bytes once, not twice.
void free_contents(pb::TensorProto& t) {
  pb::TensorProto emptied;
  emptied.set_name(t.name());
  emptied.Swap(&t);
}

Imported from_model(pb::ModelProto&& model, const std::string& where, const ImportOptions& options) {
  const int opset = default_opset(model);
  STRATA_CHECK(opset >= kMinImportOpset && opset <= kMaxImportOpset, where, "opset ", opset,
               " of the default domain is not supported; import reads opsets ", kMinImportOpset, " to ",
               kMaxImportOpset);
  const pb::GraphProto& g = model.graph();

  std::set<std::string> initializer_names;
  for (const pb::TensorProto& t : g.initializer()) {
    STRATA_CHECK(!t.name().empty() && initializer_names.insert(t.name()).second, where, "initializer '", detail::printable(t.name()),
                 "' is unnamed or named twice");
  }
  // The input: the graph input that is not an initializer (older files list those as inputs too).
  const pb::ValueInfoProto* input = nullptr;
  for (const pb::ValueInfoProto& v : g.input()) {
    if (initializer_names.contains(v.name())) continue;
    STRATA_CHECK(input == nullptr, where, "the graph has inputs '", detail::printable(input ? input->name() : ""), "' and '", detail::printable(v.name()),
                 "'; import runs models of one input");
    input = &v;
  }
  STRATA_CHECK(input != nullptr, where, "the graph has no input");
  STRATA_CHECK(g.output_size() == 1, where, "the graph has ", g.output_size(), " outputs; import runs models of one");
  const pb::TypeProto_Tensor& in_type = input->type().tensor_type();
  STRATA_CHECK(input->type().has_tensor_type() && in_type.elem_type() == pb::TensorProto::FLOAT, where, "input '",
               input->name(), "' is not a float tensor; import runs models of float inputs");

  Imported out;
  out.where = where;
  out.opset = opset;
  out.input_name = input->name();
  out.output_name = g.output(0).name();
  out.name = g.name();
  for (const auto& d : in_type.shape().dim()) out.input_dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  STRATA_CHECK(out.input_dims.size() >= 2 && static_cast<int>(out.input_dims.size()) <= kMaxDims, where, "input '",
               input->name(), "' has ", out.input_dims.size(), " dimensions; import runs inputs of 2 to ", kMaxDims);
  for (const auto& d : g.output(0).type().tensor_type().shape().dim())
    out.output_dims.push_back(d.has_dim_value() ? d.dim_value() : -1);
  for (const pb::StringStringEntryProto& e : model.metadata_props()) out.metadata[e.key()] = e.value();

  // Nodes, in the file's order, each reading only what came before it.
  std::set<std::string> known = initializer_names;
  known.insert(input->name());
  std::vector<ImportedNode> nodes;
  std::map<std::string, RunValue> constants;
  for (int i = 0; i < g.node_size(); ++i) {
    const pb::NodeProto& p = g.node(i);
    ImportedNode n;
    n.name = p.name().empty() ? std::string("#").append(std::to_string(i)) : p.name();
    n.op = p.op_type();
    STRATA_CHECK(p.domain().empty() || p.domain() == "ai.onnx", where, n.where(), " is of domain '", p.domain(),
                 "'; import runs the default domain's operators: ", supported_operators());
    n.inputs.assign(p.input().begin(), p.input().end());
    n.outputs.assign(p.output().begin(), p.output().end());
    for (const pb::AttributeProto& a : p.attribute()) n.attributes[a.name()] = a;
    check_node(n, opset);
    for (const std::string& in : n.inputs)
      STRATA_CHECK(in.empty() || known.contains(in), where, n.where(), " reads '", in,
                   "', which no earlier node, initializer or input makes (nodes must be in an order that runs)");
    for (const std::string& o : n.outputs)
      STRATA_CHECK(o.empty() || known.insert(o).second, where, n.where(), " writes '", o,
                   "', which is already defined");
    if (n.op == "Constant") {
      constants[n.outputs[0]] = constant_node_value(n);
      continue;
    }
    nodes.push_back(std::move(n));
  }
  STRATA_CHECK(known.contains(out.output_name), where, "nothing makes the output '", detail::printable(out.output_name), "'");

  // Constant scalar inputs read as attributes, once, rather than at every run: Dropout's ratio,
  // Clip's bounds (opset 11 on), Pad's constant; from Constant nodes or initializers. An
  // initializer read only so leaves the model's state.
  std::map<std::string, RunValue> scalar_initializers;
  for (const pb::TensorProto& t : g.initializer())
    if (t.data_type() == pb::TensorProto::FLOAT || t.data_type() == pb::TensorProto::DOUBLE) {
      int64_t count = 1;
      for (int64_t d : t.dims()) count *= d;
      if (count == 1) scalar_initializers[t.name()] = constant_value(t, "the model");
    }
  std::set<std::string> made_attributes;
  auto to_attribute = [&](ImportedNode& n, std::size_t input, const char* name) {
    if (n.inputs.size() <= input) return;
    const std::string& source = n.inputs[input];
    const bool constant = constants.contains(source);
    if (!constant && !scalar_initializers.contains(source)) return;
    const RunValue& value = constant ? constants.at(source) : scalar_initializers.at(source);
    STRATA_CHECK(!value.is_ints && value.tensor.numel() == 1, where, n.where(), ": its ", name, " is not one number");
    if (!constant) made_attributes.insert(source);
    pb::AttributeProto a;
    a.set_name(name);
    a.set_type(pb::AttributeProto::FLOAT);
    a.set_f(static_cast<float>(value.tensor.to_vector<double>()[0]));
    n.attributes[name] = a;
    n.inputs[input].clear();
  };
  for (ImportedNode& n : nodes) {
    if (n.op == "Dropout") to_attribute(n, 1, "ratio");
    if (n.op == "Clip") {
      to_attribute(n, 1, "min");
      to_attribute(n, 2, "max");
    }
    if (n.op == "Pad") to_attribute(n, 2, "value");
  }
  for (const ImportedNode& n : nodes)
    for (const std::string& in : n.inputs) made_attributes.erase(in);  // still read as a tensor

  // PyTorch's exporter keeps one initializer of tensors with equal contents and writes the others
  // as Identity nodes of it (a fresh batch norm's weight and running variance are both ones, its
  // bias and running mean both zeros): each becomes a tensor of its own again, under its own
  // name, so that a statistic is not the parameter it once equalled.
  std::vector<std::pair<std::string, std::string>> copies;  // (name, initializer copied)
  std::set<std::string> copyable = initializer_names;
  std::erase_if(nodes, [&](const ImportedNode& n) {
    if (n.op != "Identity" || n.inputs.size() != 1 || n.outputs.size() != 1 || !copyable.contains(n.inputs[0]) ||
        n.outputs[0] == out.output_name)
      return false;
    copies.emplace_back(n.outputs[0], n.inputs[0]);
    copyable.insert(n.outputs[0]);
    return true;
  });

  std::set<std::string> weights;
  for (const ImportedNode& n : nodes)
    for (std::size_t i = 0; i < n.inputs.size(); ++i)
      if (reads_weight(n, i)) weights.insert(n.inputs[i]);
  std::set<std::string> scopes;
  for (const std::string& name : copyable)
    for (std::size_t dot = name.find('.'); dot != std::string::npos; dot = name.find('.', dot + 1))
      scopes.insert(name.substr(0, dot));

  std::vector<std::pair<std::string, RunValue>> state;
  for (pb::TensorProto& t : *model.mutable_graph()->mutable_initializer()) {
    if (made_attributes.contains(t.name())) continue;
    RunValue v = constant_value(t, "the model");
    free_contents(t);
    if (v.is_ints)
      constants[t.name()] = std::move(v);
    else
      state.emplace_back(t.name(), std::move(v));
  }
  for (const auto& [name, source] : copies) {
    if (constants.contains(source)) {
      constants[name] = constants.at(source);
      continue;
    }
    const auto it = std::find_if(state.begin(), state.end(), [&](const auto& entry) { return entry.first == source; });
    STRATA_CHECK(it != state.end(), where, "'", detail::printable(name), "' is an Identity of '",
                 detail::printable(source), "', which is read only as a constant number; import needs it as a tensor");
    state.emplace_back(name, RunValue{it->second.tensor.clone()});
  }
  if (options.num_classes > 0) {
    replace_classifier(nodes, state, options.num_classes, where);
    if (out.output_dims.size() == 2) out.output_dims[1] = options.num_classes;
  }
  auto module = std::make_shared<OnnxModel>(out.name, opset, out.input_name, out.output_name, std::move(nodes),
                                            std::move(constants));
  for (auto& [name, v] : state) module->add_state(name, state_name(name, scopes), v.tensor, weights.contains(name));
  module->eval();
  out.module = module;
  return out;
}

// The file's bytes for protobuf's parser, read in chunks as it parses: the parsed model is then the
// only copy of the file's tensors in memory (a buffer of the whole file beside it would double the
// peak of a load: VGG-11's 515 MB of weights). The first error reading the file is kept for the
// message; protobuf sees the end of the stream.
class FileStream final : public google::protobuf::io::CopyingInputStream {
 public:
  explicit FileStream(const io::InputFile& file) : file_(file) {}
  int Read(void* buffer, int size) override {
    const uint64_t left = file_.size() - offset_;
    const int n = static_cast<int>(std::min<uint64_t>(left, static_cast<uint64_t>(std::max(size, 0))));
    if (n == 0) return 0;
    try {
      file_.read(offset_, buffer, static_cast<std::size_t>(n));
    } catch (const Error& e) {
      error_ = e.what();
      return -1;
    }
    offset_ += static_cast<uint64_t>(n);
    return n;
  }
  const std::string& error() const { return error_; }

 private:
  const io::InputFile& file_;
  uint64_t offset_ = 0;
  std::string error_;
};

}  // namespace

Imported from_bytes(const std::string& bytes, const std::string& where, const ImportOptions& options) {
  return from_model(parse(bytes.data(), bytes.size(), where), where, options);
}

Shape Imported::example_shape() const {
  Shape shape{1};
  for (std::size_t i = 1; i < input_dims.size(); ++i) {
    STRATA_CHECK(input_dims[i] > 0, where, "input '", detail::printable(input_name), "' has a symbolic dimension ", i,
                 "; Strata runs ONNX models of a fixed image size (only the batch may be symbolic)");
    shape.push_back(input_dims[i]);
  }
  return shape;
}

Imported load(const std::filesystem::path& path, const ImportOptions& options) {
  const io::InputFile file(path, "onnx::load");
  STRATA_CHECK(file.size() < (uint64_t{1} << 31), file.prefix(), "is ", file.size(),
               " bytes; ONNX files with the tensors inside are under 2 GiB");
  pb::ModelProto model;
  {
    // Bounded by the file's size: a declared length past the file's end fails the parse rather
    // than reserving that many bytes.
    FileStream stream(file);
    google::protobuf::io::CopyingInputStreamAdaptor adaptor(&stream, 1 << 20);
    const bool parsed = model.ParseFromBoundedZeroCopyStream(&adaptor, static_cast<int>(file.size()));
    STRATA_CHECK(stream.error().empty(), stream.error());
    STRATA_CHECK(parsed, file.prefix(), "not an ONNX model (the protobuf does not parse)");
  }
  return from_model(std::move(model), file.prefix(), options);
}

}  // namespace strata::onnx
