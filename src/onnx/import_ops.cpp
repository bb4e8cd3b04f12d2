// Each ONNX operator import supports, as the Strata ops that compute it (operator semantics:
// https://onnx.ai/onnx/operators/). Integer values computed from shapes (Shape, Gather, Concat,
// Unsqueeze, ... on int64) are folded to integer lists here rather than run as tensors, so that a
// PyTorch-exported flatten (Shape -> Gather -> Unsqueeze -> Concat -> Reshape) is one reshape.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <unordered_map>

#include "onnx/onnx_model.hpp"
#include "strata/error.hpp"
#include "strata/ops.hpp"

namespace strata::onnx {
namespace {

namespace pb = ::onnx;
using Values = std::map<std::string, RunValue>;

// ---- Attributes ----

const pb::AttributeProto* find_attr(const ImportedNode& n, const char* name) {
  auto it = n.attributes.find(name);
  return it == n.attributes.end() ? nullptr : &it->second;
}

int64_t attr_int(const ImportedNode& n, const char* name, int64_t fallback) {
  const pb::AttributeProto* a = find_attr(n, name);
  return a ? a->i() : fallback;
}

float attr_float(const ImportedNode& n, const char* name, float fallback) {
  const pb::AttributeProto* a = find_attr(n, name);
  return a ? a->f() : fallback;
}

std::vector<int64_t> attr_ints(const ImportedNode& n, const char* name, std::vector<int64_t> fallback = {}) {
  const pb::AttributeProto* a = find_attr(n, name);
  return a ? std::vector<int64_t>(a->ints().begin(), a->ints().end()) : fallback;
}

std::string attr_string(const ImportedNode& n, const char* name, const std::string& fallback) {
  const pb::AttributeProto* a = find_attr(n, name);
  return a ? a->s() : fallback;
}

// ---- Inputs ----

bool has_input(const ImportedNode& n, std::size_t i) { return i < n.inputs.size() && !n.inputs[i].empty(); }

const RunValue& input(const ImportedNode& n, const Values& values, std::size_t i) {
  STRATA_CHECK(has_input(n, i), "onnx import: ", n.where(), " needs input ", i + 1);
  auto it = values.find(n.inputs[i]);
  STRATA_CHECK(it != values.end(), "onnx import: ", n.where(), " reads '", detail::printable(n.inputs[i]), "', which nothing made");
  return it->second;
}

const Tensor& tensor_input(const ImportedNode& n, const Values& values, std::size_t i) {
  const RunValue& v = input(n, values, i);
  STRATA_CHECK(!v.is_ints, "onnx import: ", n.where(), " takes a float tensor as input ", i + 1, " ('", detail::printable(n.inputs[i]),
               "'), got integers computed from shapes; import runs int64 values only as shapes, axes and sizes");
  return v.tensor;
}

Tensor optional_tensor(const ImportedNode& n, const Values& values, std::size_t i) {
  return has_input(n, i) ? tensor_input(n, values, i) : Tensor();
}

const std::vector<int64_t>& ints_input(const ImportedNode& n, const Values& values, std::size_t i) {
  const RunValue& v = input(n, values, i);
  STRATA_CHECK(v.is_ints, "onnx import: ", n.where(), " takes int64 values as input ", i + 1, " ('", detail::printable(n.inputs[i]),
               "'), got a float tensor");
  return v.ints;
}

void set_tensor(const ImportedNode& n, Values& values, Tensor t, std::size_t output = 0) {
  STRATA_CHECK(output < n.outputs.size(), "onnx import: ", n.where(), " has no output ", output + 1);
  values[n.outputs[output]] = RunValue{std::move(t)};
}

void set_ints(const ImportedNode& n, Values& values, std::vector<int64_t> ints, bool scalar = false) {
  RunValue v;
  v.is_ints = true;
  v.scalar = scalar;
  v.ints = std::move(ints);
  values[n.outputs.at(0)] = std::move(v);
}

// ---- Helpers ----

Dims dims_of(const ImportedNode& n, const std::vector<int64_t>& v) {
  switch (v.size()) {
    case 1:
      return Dims{v[0]};
    case 2:
      return Dims{v[0], v[1]};
    case 3:
      return Dims{v[0], v[1], v[2]};
  }
  fail("onnx import: ", n.where(), " has ", v.size(), " spatial dimensions; import runs 2-D and 3-D windows");
}

int axis_of(const ImportedNode& n, int64_t axis, int ndim) {
  STRATA_CHECK(axis >= -ndim && axis < ndim, "onnx import: ", n.where(), ": axis ", axis, " is out of range for ", ndim,
               " dimensions");
  return static_cast<int>(axis < 0 ? axis + ndim : axis);
}

// Symmetric padding from ONNX pads (begin..., end...), or from auto_pad for input x, kernel k,
// stride s and dilation d.
std::vector<int64_t> symmetric_padding(const ImportedNode& n, const Shape& x, const std::vector<int64_t>& kernel,
                                       const std::vector<int64_t>& stride, const std::vector<int64_t>& dilation) {
  const std::size_t nd = kernel.size();
  const std::string auto_pad = attr_string(n, "auto_pad", "NOTSET");
  std::vector<int64_t> pads = attr_ints(n, "pads", std::vector<int64_t>(2 * nd, 0));
  if (auto_pad == "VALID") pads.assign(2 * nd, 0);
  if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    for (std::size_t i = 0; i < nd; ++i) {
      const int64_t in = x[static_cast<int>(2 + i)], out = (in + stride[i] - 1) / stride[i];
      const int64_t total = std::max<int64_t>((out - 1) * stride[i] + (kernel[i] - 1) * dilation[i] + 1 - in, 0);
      pads[i] = auto_pad == "SAME_UPPER" ? total / 2 : total - total / 2;
      pads[nd + i] = total - pads[i];
    }
  }
  STRATA_CHECK(pads.size() == 2 * nd, "onnx import: ", n.where(), " has ", pads.size(), " pads for ", nd,
               " spatial dimensions");
  for (std::size_t i = 0; i < nd; ++i)
    STRATA_CHECK(pads[i] == pads[nd + i], "onnx import: ", n.where(), " pads dimension ", i, " by ", pads[i],
                 " before and ", pads[nd + i], " after; Strata's windows pad both sides alike");
  return std::vector<int64_t>(pads.begin(), pads.begin() + static_cast<std::ptrdiff_t>(nd));
}

// ---- Operators ----

void conv(const ImportedNode& n, Values& v, bool, int) {
  const Tensor& x = tensor_input(n, v, 0);
  const Tensor& w = tensor_input(n, v, 1);
  const int nd = w.ndim() - 2;
  STRATA_CHECK(nd == 2 || nd == 3, "onnx import: ", n.where(), " is a ", nd, "-D convolution; import runs 2-D and 3-D");
  const std::vector<int64_t> kernel(w.shape().begin() + 2, w.shape().end());
  const std::vector<int64_t> stride = attr_ints(n, "strides", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> dilation = attr_ints(n, "dilations", std::vector<int64_t>(nd, 1));
  const ConvOptions o{.stride = dims_of(n, stride),
                      .padding = dims_of(n, symmetric_padding(n, x.shape(), kernel, stride, dilation)),
                      .dilation = dims_of(n, dilation),
                      .groups = attr_int(n, "group", 1)};
  const Tensor b = optional_tensor(n, v, 2);
  set_tensor(n, v, nd == 2 ? conv2d(x, w, b, o) : conv3d(x, w, b, o));
}

void batch_normalization(const ImportedNode& n, Values& v, bool training, int) {
  STRATA_CHECK(attr_int(n, "training_mode", 0) == 0, "onnx import: ", n.where(),
               " is written in training mode; import takes models exported for inference (the module's own mode "
               "then decides)");
  const double momentum = 1.0 - attr_float(n, "momentum", 0.9f);
  set_tensor(n, v,
             batch_norm(tensor_input(n, v, 0), tensor_input(n, v, 1), tensor_input(n, v, 2), tensor_input(n, v, 3),
                        tensor_input(n, v, 4), training, momentum, attr_float(n, "epsilon", 1e-5f)));
}

template <Tensor (*Fn)(const Tensor&)>
void unary(const ImportedNode& n, Values& v, bool, int) {
  set_tensor(n, v, Fn(tensor_input(n, v, 0)));
}

// Add, Sub, Mul, Div with NumPy broadcasting; on two integer lists (shape arithmetic) elementwise.
template <char Op>
void binary(const ImportedNode& n, Values& v, bool, int) {
  const RunValue &a = input(n, v, 0), &b = input(n, v, 1);
  if (a.is_ints && b.is_ints) {
    STRATA_CHECK(a.ints.size() == b.ints.size() || a.scalar || b.scalar, "onnx import: ", n.where(),
                 ": integer operands of ", a.ints.size(), " and ", b.ints.size(), " values");
    const std::size_t size = std::max(a.ints.size(), b.ints.size());
    std::vector<int64_t> out(size);
    for (std::size_t i = 0; i < size; ++i) {
      const int64_t x = a.ints[a.scalar ? 0 : i], y = b.ints[b.scalar ? 0 : i];
      STRATA_CHECK(Op != '/' || y != 0, "onnx import: ", n.where(), " divides by zero");
      out[i] = Op == '+' ? x + y : Op == '-' ? x - y : Op == '*' ? x * y : x / y;
    }
    set_ints(n, v, std::move(out), a.scalar && b.scalar);
    return;
  }
  const Tensor &x = tensor_input(n, v, 0), &y = tensor_input(n, v, 1);
  set_tensor(n, v, Op == '+' ? x + y : Op == '-' ? x - y : Op == '*' ? x * y : x / y);
}

void pool(const ImportedNode& n, Values& v, PoolMode mode) {
  const Tensor& x = tensor_input(n, v, 0);
  const std::vector<int64_t> kernel = attr_ints(n, "kernel_shape");
  const std::size_t nd = kernel.size();
  STRATA_CHECK(nd == 2 || nd == 3, "onnx import: ", n.where(), " pools ", nd, " dimensions; import runs 2-D and 3-D");
  const std::vector<int64_t> stride = attr_ints(n, "strides", std::vector<int64_t>(nd, 1));
  const std::vector<int64_t> dilation = attr_ints(n, "dilations", std::vector<int64_t>(nd, 1));
  STRATA_CHECK(std::all_of(dilation.begin(), dilation.end(), [](int64_t d) { return d == 1; }),
               "onnx import: ", n.where(), " has dilated windows; Strata's poolings have none");
  const PoolOptions o{.kernel = dims_of(n, kernel),
                      .stride = dims_of(n, stride),
                      .padding = dims_of(n, symmetric_padding(n, x.shape(), kernel, stride, dilation)),
                      .ceil_mode = attr_int(n, "ceil_mode", 0) != 0,
                      .count_include_pad = attr_int(n, "count_include_pad", 0) != 0};
  Tensor y;
  if (mode == PoolMode::Max)
    y = nd == 2 ? max_pool2d(x, o) : max_pool3d(x, o);
  else
    y = nd == 2 ? avg_pool2d(x, o) : avg_pool3d(x, o);
  set_tensor(n, v, y);
}

void max_pool(const ImportedNode& n, Values& v, bool, int) {
  STRATA_CHECK(n.outputs.size() == 1 || n.outputs[1].empty(), "onnx import: ", n.where(),
               " also outputs the indices of the maxima, which import does not compute");
  pool(n, v, PoolMode::Max);
}
void average_pool(const ImportedNode& n, Values& v, bool, int) { pool(n, v, PoolMode::Avg); }

void global_pool(const ImportedNode& n, Values& v, PoolMode mode) {
  const Tensor& x = tensor_input(n, v, 0);
  const int nd = x.ndim() - 2;
  STRATA_CHECK(nd == 2 || nd == 3, "onnx import: ", n.where(), " pools ", nd, " dimensions; import runs 2-D and 3-D");
  if (mode == PoolMode::Avg) {
    set_tensor(n, v, nd == 2 ? adaptive_avg_pool2d(x, 1) : adaptive_avg_pool3d(x, 1));
    return;
  }
  const Shape& s = x.shape();
  const PoolOptions o{.kernel = nd == 2 ? Dims{s[2], s[3]} : Dims{s[2], s[3], s[4]}};
  set_tensor(n, v, nd == 2 ? max_pool2d(x, o) : max_pool3d(x, o));
}
void global_average_pool(const ImportedNode& n, Values& v, bool, int) { global_pool(n, v, PoolMode::Avg); }
void global_max_pool(const ImportedNode& n, Values& v, bool, int) { global_pool(n, v, PoolMode::Max); }

// Y = alpha * A' B' + beta * C: linear() where it is x w^T + b, as PyTorch writes nn.Linear.
void gemm(const ImportedNode& n, Values& v, bool, int) {
  Tensor a = tensor_input(n, v, 0), b = tensor_input(n, v, 1);
  const Tensor c = optional_tensor(n, v, 2);
  const float alpha = attr_float(n, "alpha", 1.0f), beta = attr_float(n, "beta", 1.0f);
  if (attr_int(n, "transA", 0)) a = a.transpose(0, 1);
  const bool trans_b = attr_int(n, "transB", 0) != 0;
  if (alpha == 1.0f && trans_b && (!c.defined() || (beta == 1.0f && c.ndim() == 1))) {
    set_tensor(n, v, linear(a, b, c));
    return;
  }
  Tensor y = matmul(a, trans_b ? b.transpose(0, 1) : b);
  if (alpha != 1.0f) y = y * static_cast<double>(alpha);
  if (c.defined()) y = y + (beta == 1.0f ? c : c * static_cast<double>(beta));
  set_tensor(n, v, y);
}

void mat_mul(const ImportedNode& n, Values& v, bool, int) {
  set_tensor(n, v, matmul(tensor_input(n, v, 0), tensor_input(n, v, 1)));
}

void flatten(const ImportedNode& n, Values& v, bool, int) {
  const Tensor& x = tensor_input(n, v, 0);
  const int axis = axis_of(n, attr_int(n, "axis", 1), x.ndim() + 1);
  int64_t outer = 1;
  for (int i = 0; i < axis; ++i) outer *= x.shape()[i];
  set_tensor(n, v, x.reshape({outer, outer == 0 ? 0 : x.numel() / outer}));
}

void reshape(const ImportedNode& n, Values& v, bool, int) {
  const RunValue& data = input(n, v, 0);
  std::vector<int64_t> target = ints_input(n, v, 1);
  const bool allow_zero = attr_int(n, "allowzero", 0) != 0;
  const Shape in = data.is_ints ? Shape{static_cast<int64_t>(data.ints.size())} : data.tensor.shape();
  STRATA_CHECK(static_cast<int>(target.size()) <= kMaxDims, "onnx import: ", n.where(), " reshapes to ", target.size(),
               " dimensions; Strata's tensors have at most ", kMaxDims);
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == 0 && !allow_zero) {
      STRATA_CHECK(static_cast<int>(i) < in.ndim(), "onnx import: ", n.where(), " copies dimension ", i,
                   " of an input of ", in.ndim());
      target[i] = in[static_cast<int>(i)];
    }
  }
  if (data.is_ints) {  // integers reshaped to a scalar, a list or a matrix: the same values
    STRATA_CHECK(target.size() <= 2, "onnx import: ", n.where(), " reshapes integers to ", target.size(),
                 " dimensions; import folds integer scalars, lists and matrices");
    set_ints(n, v, data.ints, target.empty());
    if (target.size() == 2) {
      const auto size = static_cast<int64_t>(data.ints.size());
      const int64_t rows = target[0] >= 0 ? target[0] : (target[1] > 0 ? size / target[1] : 0);
      STRATA_CHECK(rows > 0 && size % rows == 0, "onnx import: ", n.where(), " reshapes ", size, " integers to (",
                   target[0], ", ", target[1], ")");
      v[n.outputs.at(0)].rows = rows;
    }
    return;
  }
  set_tensor(n, v, data.tensor.reshape(Shape(std::span<const int64_t>(target))));
}

void concat(const ImportedNode& n, Values& v, bool, int) {
  bool ints = true;
  for (std::size_t i = 0; i < n.inputs.size(); ++i) ints = ints && input(n, v, i).is_ints;
  if (ints) {
    std::vector<int64_t> out;
    for (std::size_t i = 0; i < n.inputs.size(); ++i) {
      const std::vector<int64_t>& part = ints_input(n, v, i);
      out.insert(out.end(), part.begin(), part.end());
    }
    set_ints(n, v, std::move(out));
    return;
  }
  std::vector<Tensor> parts;
  for (std::size_t i = 0; i < n.inputs.size(); ++i) parts.push_back(tensor_input(n, v, i));
  STRATA_CHECK(!parts.empty(), "onnx import: ", n.where(), " concatenates nothing");
  set_tensor(n, v, cat(parts, axis_of(n, attr_int(n, "axis", 0), parts[0].ndim())));
}

void dropout(const ImportedNode& n, Values& v, bool training, int) {
  double p = attr_float(n, "ratio", 0.5f);
  if (has_input(n, 1)) {
    const Tensor& ratio = tensor_input(n, v, 1);
    STRATA_CHECK(ratio.numel() == 1, "onnx import: ", n.where(), ": the ratio is not one number");
    p = ratio.to_vector<double>()[0];
  }
  STRATA_CHECK(n.outputs.size() == 1 || n.outputs[1].empty(), "onnx import: ", n.where(),
               " also outputs its mask, which import does not compute");
  set_tensor(n, v, strata::dropout(tensor_input(n, v, 0), p, training));
}

void identity(const ImportedNode& n, Values& v, bool, int) { v[n.outputs.at(0)] = input(n, v, 0); }

void softmax_op(const ImportedNode& n, Values& v, bool log, int opset) {
  const Tensor& x = tensor_input(n, v, 0);
  const int axis = axis_of(n, attr_int(n, "axis", opset >= 13 ? -1 : 1), x.ndim());
  // Before opset 13 the axis flattened the dimensions after it into one: the same where it is the last.
  STRATA_CHECK(opset >= 13 || axis == x.ndim() - 1, "onnx import: ", n.where(), " normalizes over dimensions ", axis,
               " to the last together (opset ", opset, "); import runs it over the last dimension only");
  set_tensor(n, v, log ? log_softmax(x, axis) : softmax(x, axis));
}
void softmax_node(const ImportedNode& n, Values& v, bool, int opset) { softmax_op(n, v, false, opset); }
void log_softmax_node(const ImportedNode& n, Values& v, bool, int opset) { softmax_op(n, v, true, opset); }

// Shape -> ints.
void shape(const ImportedNode& n, Values& v, bool, int) {
  const RunValue& x = input(n, v, 0);
  const Shape s = x.is_ints ? (x.scalar ? Shape{} : Shape{static_cast<int64_t>(x.ints.size())}) : x.tensor.shape();
  const int64_t rank = s.ndim();
  int64_t start = attr_int(n, "start", 0), end = attr_int(n, "end", rank);
  start = std::clamp<int64_t>(start < 0 ? start + rank : start, 0, rank);
  end = std::clamp<int64_t>(end < 0 ? end + rank : end, 0, rank);
  set_ints(n, v, std::vector<int64_t>(s.begin() + start, s.begin() + std::max(start, end)));
}

// Gather on integer lists (a shape's entries).
void gather(const ImportedNode& n, Values& v, bool, int) {
  const RunValue& data = input(n, v, 0);
  STRATA_CHECK(data.is_ints, "onnx import: ", n.where(),
               " gathers from a float tensor; import runs Gather on shapes only (embedding lookups are not CNN ops)");
  STRATA_CHECK(attr_int(n, "axis", 0) == 0, "onnx import: ", n.where(), " gathers along axis ", attr_int(n, "axis", 0),
               " of a 1-D list");
  const RunValue& idx = input(n, v, 1);
  STRATA_CHECK(idx.is_ints, "onnx import: ", n.where(), " takes int64 indices");
  std::vector<int64_t> out;
  const auto size = static_cast<int64_t>(data.ints.size());
  for (int64_t i : idx.ints) {
    STRATA_CHECK(i >= -size && i < size, "onnx import: ", n.where(), ": index ", i, " is out of range for ", size,
                 " values");
    out.push_back(data.ints[static_cast<std::size_t>(i < 0 ? i + size : i)]);
  }
  set_ints(n, v, std::move(out), idx.scalar);
}

// Axes from the attribute (before opset 13) or the second input.
std::vector<int64_t> axes_of(const ImportedNode& n, const Values& v, int opset, std::size_t input_index) {
  if (opset < 13) return attr_ints(n, "axes");
  return has_input(n, input_index) ? ints_input(n, v, input_index) : std::vector<int64_t>{};
}

void unsqueeze(const ImportedNode& n, Values& v, bool, int opset) {
  const RunValue& x = input(n, v, 0);
  std::vector<int64_t> axes = axes_of(n, v, opset, 1);
  if (x.is_ints) {  // a scalar becomes a one-value list
    STRATA_CHECK(x.scalar && axes.size() == 1 && (axes[0] == 0 || axes[0] == -1), "onnx import: ", n.where(),
                 " unsqueezes an integer list other than a scalar into a list");
    set_ints(n, v, x.ints);
    return;
  }
  const int out_rank = x.tensor.ndim() + static_cast<int>(axes.size());
  for (int64_t& a : axes) a = axis_of(n, a, out_rank);
  std::sort(axes.begin(), axes.end());
  Tensor y = x.tensor;
  for (int64_t a : axes) y = y.unsqueeze(static_cast<int>(a));
  set_tensor(n, v, y);
}

void squeeze(const ImportedNode& n, Values& v, bool, int opset) {
  const RunValue& x = input(n, v, 0);
  std::vector<int64_t> axes = axes_of(n, v, opset, 1);
  if (x.is_ints) {
    STRATA_CHECK(x.ints.size() == 1, "onnx import: ", n.where(), " squeezes a list of ", x.ints.size(), " integers");
    set_ints(n, v, x.ints, true);
    return;
  }
  Tensor y = x.tensor;
  if (axes.empty())
    for (int d = 0; d < y.ndim(); ++d)
      if (y.shape()[d] == 1) axes.push_back(d);
  for (int64_t& a : axes) a = axis_of(n, a, y.ndim());
  std::sort(axes.rbegin(), axes.rend());
  for (int64_t a : axes) y = y.squeeze(static_cast<int>(a));
  set_tensor(n, v, y);
}

// ConstantOfShape: integers (PyTorch's zeros before its pads) when the value is an integer,
// else a float tensor.
void constant_of_shape(const ImportedNode& n, Values& v, bool, int) {
  const std::vector<int64_t>& shape = ints_input(n, v, 0);
  const pb::AttributeProto* a = find_attr(n, "value");
  const RunValue value = a ? constant_value(a->t(), n.where()) : RunValue{full({}, 0.0)};
  if (value.is_ints) {
    STRATA_CHECK(shape.size() <= 1, "onnx import: ", n.where(), " makes integers of ", shape.size(),
                 " dimensions; import folds integer lists");
    set_ints(n, v, std::vector<int64_t>(static_cast<std::size_t>(shape.empty() ? 1 : shape[0]), value.ints.at(0)),
             shape.empty());
    return;
  }
  set_tensor(n, v, full(Shape(std::span<const int64_t>(shape)), value.tensor.to_vector<double>().at(0)));
}

void cast(const ImportedNode& n, Values& v, bool, int) {
  const RunValue& x = input(n, v, 0);
  const int64_t to = attr_int(n, "to", 0);
  const bool to_int = to == pb::TensorProto::INT64 || to == pb::TensorProto::INT32;
  STRATA_CHECK((x.is_ints && to_int) || (!x.is_ints && to == pb::TensorProto::FLOAT), "onnx import: ", n.where(),
               " casts ", x.is_ints ? "integers" : "a float tensor", " to ONNX type ", to,
               "; import casts shapes between integer types and floats to float only");
  v[n.outputs.at(0)] = x;
}

// Slice: on integer lists, or on a tensor along its axes.
void slice(const ImportedNode& n, Values& v, bool, int opset) {
  STRATA_CHECK(opset >= 10, "onnx import: ", n.where(), ": Slice of opset ", opset, " takes its bounds as attributes");
  const RunValue& x = input(n, v, 0);
  const std::vector<int64_t>& starts = ints_input(n, v, 1);
  const std::vector<int64_t>& ends = ints_input(n, v, 2);
  const int rank = x.is_ints ? (x.rows > 0 ? 2 : 1) : x.tensor.ndim();
  std::vector<int64_t> axes = has_input(n, 3) ? ints_input(n, v, 3) : std::vector<int64_t>{};
  std::vector<int64_t> steps = has_input(n, 4) ? ints_input(n, v, 4) : std::vector<int64_t>{};
  if (axes.empty())
    for (std::size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  if (steps.empty()) steps.assign(starts.size(), 1);
  STRATA_CHECK(ends.size() == starts.size() && axes.size() == starts.size() && steps.size() == starts.size(),
               "onnx import: ", n.where(), ": starts, ends, axes and steps differ in length");
  RunValue out = x;
  for (std::size_t i = 0; i < starts.size(); ++i) {
    const int axis = axis_of(n, axes[i], rank);
    if (x.is_ints) {  // a list's values or a matrix's rows, any nonzero step (PyTorch reverses its pads)
      STRATA_CHECK(axis == 0 && steps[i] != 0, "onnx import: ", n.where(), " slices integers along axis ", axis,
                   " with step ", steps[i], "; import slices a list or a matrix's rows with a nonzero step");
      const int64_t width = out.rows > 0 ? static_cast<int64_t>(out.ints.size()) / out.rows : 1;
      const int64_t size = static_cast<int64_t>(out.ints.size()) / width, step = steps[i];
      int64_t s = starts[i] < 0 ? starts[i] + size : starts[i], e = ends[i] < 0 ? ends[i] + size : ends[i];
      s = step > 0 ? std::clamp<int64_t>(s, 0, size) : std::clamp<int64_t>(s, 0, size - 1);
      e = step > 0 ? std::clamp<int64_t>(e, 0, size) : std::clamp<int64_t>(e, -1, size - 1);
      std::vector<int64_t> part;
      for (int64_t j = s; step > 0 ? j < e : j > e; j += step)
        part.insert(part.end(), out.ints.begin() + j * width, out.ints.begin() + (j + 1) * width);
      if (out.rows > 0) out.rows = static_cast<int64_t>(part.size()) / width;
      out.ints = std::move(part);
      continue;
    }
    const int64_t size = x.tensor.shape()[axis];
    STRATA_CHECK(steps[i] > 0, "onnx import: ", n.where(), " slices with step ", steps[i],
                 "; import takes positive steps");
    int64_t s = starts[i] < 0 ? starts[i] + size : starts[i], e = ends[i] < 0 ? ends[i] + size : ends[i];
    s = std::clamp<int64_t>(s, 0, size);
    e = std::clamp<int64_t>(e, s, size);
    out.tensor = out.tensor.slice(axis, s, e, steps[i]);
  }
  v[n.outputs.at(0)] = std::move(out);
}

// Split along an axis into the outputs: sizes from the second input (opset 13 on) or the
// attribute, else equal parts (the last smaller where opset 18 allows it).
void split(const ImportedNode& n, Values& v, bool, int opset) {
  const Tensor& x = tensor_input(n, v, 0);
  const int axis = axis_of(n, attr_int(n, "axis", 0), x.ndim());
  const int64_t size = x.shape()[axis];
  const auto parts = static_cast<int64_t>(n.outputs.size());
  std::vector<int64_t> sizes = opset >= 13 ? (has_input(n, 1) ? ints_input(n, v, 1) : std::vector<int64_t>{})
                                           : attr_ints(n, "split");
  if (sizes.empty()) {
    const int64_t part = (size + parts - 1) / parts;
    STRATA_CHECK(opset >= 18 || size % parts == 0, "onnx import: ", n.where(), " splits ", size, " into ", parts,
                 " unequal parts without sizes");
    for (int64_t at = 0; at < size; at += part) sizes.push_back(std::min(part, size - at));
  }
  int64_t total = 0;
  for (int64_t s : sizes) total += s;
  STRATA_CHECK(static_cast<int64_t>(sizes.size()) == parts && total == size, "onnx import: ", n.where(), " splits ",
               size, " values of axis ", axis, " into ", sizes.size(), " parts summing to ", total, " for ", parts,
               " outputs");
  int64_t at = 0;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    if (!n.outputs[i].empty()) set_tensor(n, v, x.slice(axis, at, at + sizes[i]), i);
    at += sizes[i];
  }
}

void transpose(const ImportedNode& n, Values& v, bool, int) {
  const RunValue& in = input(n, v, 0);
  if (in.is_ints) {  // a matrix of integers (perm [1, 0] or none); a list stays as it is
    const std::vector<int64_t> perm = attr_ints(n, "perm", {1, 0});
    if (in.rows == 0 || perm == std::vector<int64_t>{0, 1}) {
      v[n.outputs.at(0)] = in;
      return;
    }
    STRATA_CHECK(perm == (std::vector<int64_t>{1, 0}), "onnx import: ", n.where(), " permutes integers by ",
                 perm.size(), " axes; import transposes integer matrices");
    const auto rows = in.rows, cols = static_cast<int64_t>(in.ints.size()) / in.rows;
    std::vector<int64_t> out(in.ints.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        out[static_cast<std::size_t>(c * rows + r)] = in.ints[static_cast<std::size_t>(r * cols + c)];
    set_ints(n, v, std::move(out));
    v[n.outputs.at(0)].rows = cols;
    return;
  }
  const Tensor& x = in.tensor;
  std::vector<int64_t> perm = attr_ints(n, "perm");
  if (perm.empty())
    for (int i = x.ndim() - 1; i >= 0; --i) perm.push_back(i);
  set_tensor(n, v, x.permute(std::vector<int>(perm.begin(), perm.end())));
}

void reduce_mean(const ImportedNode& n, Values& v, bool, int opset) {
  const Tensor& x = tensor_input(n, v, 0);
  std::vector<int64_t> axes = opset >= 18 && has_input(n, 1) ? ints_input(n, v, 1) : attr_ints(n, "axes");
  std::vector<int> dims;
  if (axes.empty())
    for (int d = 0; d < x.ndim(); ++d) dims.push_back(d);
  for (int64_t a : axes) dims.push_back(axis_of(n, a, x.ndim()));
  set_tensor(n, v, x.mean(dims, attr_int(n, "keepdims", 1) != 0));
}

// Clip's bounds: attributes before opset 11, constant inputs after (made attributes when the
// file is read: onnx/import.cpp); either may be absent. Clip to [0, 6] is relu6 and to [0, inf)
// relu (Activation::clamp), which the compiled path fuses into the convolution before them.
void clip(const ImportedNode& n, Values& v, bool, int) {
  STRATA_CHECK(!has_input(n, 1) && !has_input(n, 2), "onnx import: ", n.where(),
               " takes its bounds from computed values; import runs Clip with constant bounds (initializers or "
               "Constant nodes)");
  const pb::AttributeProto* lo = find_attr(n, "min");
  const pb::AttributeProto* hi = find_attr(n, "max");
  const std::optional<double> low = lo ? std::optional<double>(lo->f()) : std::nullopt;
  const std::optional<double> high = hi ? std::optional<double>(hi->f()) : std::nullopt;
  STRATA_CHECK(!low || !high || *low <= *high, "onnx import: ", n.where(), " clips to [", *low, ", ", *high,
               "]; the lower bound must not exceed the upper");
  set_tensor(n, v, clamp(tensor_input(n, v, 0), low, high));
}

void leaky_relu_node(const ImportedNode& n, Values& v, bool, int) {
  set_tensor(n, v, leaky_relu(tensor_input(n, v, 0), attr_float(n, "alpha", 0.01f)));
}

// ONNX's defaults are alpha 0.2, beta 0.5; PyTorch writes its Hardsigmoid with alpha 1/6 as a float.
void hard_sigmoid(const ImportedNode& n, Values& v, bool, int) {
  set_tensor(n, v, hardsigmoid(tensor_input(n, v, 0), attr_float(n, "alpha", 0.2f), attr_float(n, "beta", 0.5f)));
}

// Pad: pads (each dimension's start, then each dimension's end; negative crops) as an input from
// opset 11 on, before as an attribute; the constant as input 3 (made an attribute when the file
// is read: onnx/import.cpp) or, before opset 11, the attribute `value`.
void pad_node(const ImportedNode& n, Values& v, bool, int opset) {
  const Tensor& x = tensor_input(n, v, 0);
  const std::vector<int64_t> pads = opset >= 11 ? ints_input(n, v, 1) : attr_ints(n, "pads");
  STRATA_CHECK(!has_input(n, 2), "onnx import: ", n.where(),
               " takes its constant from a computed value; import runs Pad with a constant one (an initializer or a "
               "Constant node)");
  STRATA_CHECK(!has_input(n, 3), "onnx import: ", n.where(),
               " pads only some axes (opset 18's axes input); import runs Pad with pads for every dimension");
  const std::string mode = attr_string(n, "mode", "constant");
  STRATA_CHECK(mode == "constant" || mode == "reflect" || mode == "edge", "onnx import: ", n.where(), " pads in mode '",
               detail::printable(mode), "'; import runs constant, reflect and edge");
  STRATA_CHECK(static_cast<int>(pads.size()) == 2 * x.ndim(), "onnx import: ", n.where(), " has ", pads.size(),
               " pads for an input of ", x.ndim(), " dimensions ", x.shape(), "; Pad takes two per dimension");
  const PadMode m = mode == "reflect" ? PadMode::Reflect : mode == "edge" ? PadMode::Edge : PadMode::Constant;
  const bool nothing = std::all_of(pads.begin(), pads.end(), [](int64_t p) { return p == 0; });
  set_tensor(n, v, nothing ? x : pad(x, pads, m, attr_float(n, "value", 0.0f)));
}

using Runner = void (*)(const ImportedNode&, Values&, bool, int);

const std::unordered_map<std::string, Runner>& runners() {
  static const std::unordered_map<std::string, Runner> table = {
      {"Add", binary<'+'>},
      {"AveragePool", average_pool},
      {"BatchNormalization", batch_normalization},
      {"Cast", cast},
      {"Clip", clip},
      {"Concat", concat},
      {"ConstantOfShape", constant_of_shape},
      {"Conv", conv},
      {"Div", binary<'/'>},
      {"Dropout", dropout},
      {"Flatten", flatten},
      {"Gather", gather},
      {"Gemm", gemm},
      {"GlobalAveragePool", global_average_pool},
      {"GlobalMaxPool", global_max_pool},
      {"HardSigmoid", hard_sigmoid},
      {"HardSwish", unary<hardswish>},
      {"Identity", identity},
      {"LeakyRelu", leaky_relu_node},
      {"LogSoftmax", log_softmax_node},
      {"MatMul", mat_mul},
      {"MaxPool", max_pool},
      {"Pad", pad_node},
      {"Mul", binary<'*'>},
      {"ReduceMean", reduce_mean},
      {"Relu", unary<relu>},
      {"Reshape", reshape},
      {"Shape", shape},
      {"Sigmoid", unary<sigmoid>},
      {"Slice", slice},
      {"Softmax", softmax_node},
      {"Split", split},
      {"Squeeze", squeeze},
      {"Sub", binary<'-'>},
      {"Tanh", unary<tanh>},
      {"Transpose", transpose},
      {"Unsqueeze", unsqueeze},
  };
  return table;
}

}  // namespace

RunValue constant_node_value(const ImportedNode& n) {
  const pb::AttributeProto* a = nullptr;
  for (const auto& [name, attr] : n.attributes) a = &attr;
  STRATA_CHECK(a != nullptr && n.attributes.size() == 1, "onnx import: ", n.where(), " has ", n.attributes.size(),
               " attributes; a Constant has one");
  const std::string& name = a->name();
  if (name == "value") {
    return constant_value(a->t(), n.where());
  } else if (name == "value_float") {
    return RunValue{full({}, a->f())};
  } else if (name == "value_floats") {
    return RunValue{from_data(std::span<const float>(a->floats().data(), a->floats_size()),
                              {static_cast<int64_t>(a->floats_size())})};
  } else if (name == "value_int") {
    return RunValue{.tensor = {}, .is_ints = true, .scalar = true, .ints = {a->i()}};
  } else if (name == "value_ints") {
    return RunValue{.tensor = {}, .is_ints = true, .ints = std::vector<int64_t>(a->ints().begin(), a->ints().end())};
  }
  fail("onnx import: ", n.where(), " holds a '", detail::printable(name), "'; import takes tensors, floats and ints as constants");
}

std::string ImportedNode::where() const {
  return detail::cat("node '", detail::printable(name), "' (", detail::printable(op, 40), ")");
}

std::string supported_operators() {
  std::vector<std::string> names = {"Constant"};
  for (const auto& [name, _] : runners()) names.push_back(name);
  std::sort(names.begin(), names.end());
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

void check_node(const ImportedNode& n, int opset) {
  STRATA_CHECK(n.op == "Constant" || runners().count(n.op) == 1, "onnx import: ", n.where(), ": operator ", detail::printable(n.op, 40),
               " is not supported; import runs ", supported_operators());
  STRATA_CHECK(!n.outputs.empty() && !n.outputs[0].empty(), "onnx import: ", n.where(), " has no output");
  for (const auto& [name, a] : n.attributes) {
    const bool graph_attr = a.type() == pb::AttributeProto::GRAPH || a.type() == pb::AttributeProto::GRAPHS;
    STRATA_CHECK(!graph_attr, "onnx import: ", n.where(), " has a subgraph attribute '", detail::printable(name),
                 "'; import runs graphs without control flow");
  }
  (void)opset;
}

void run_node(const ImportedNode& node, std::map<std::string, RunValue>& values, bool training, int opset) {
  runners().at(node.op)(node, values, training, opset);
}

}  // namespace strata::onnx
