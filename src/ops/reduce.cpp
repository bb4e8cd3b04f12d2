// Reductions (sum, mean, max, argmax) over any set of dimensions, with gradients.
#include "ops/reduce.hpp"

#include <algorithm>
#include <string>

#include "core/dispatch.hpp"
#include "graph/trace.hpp"
#include "ops/elementwise.hpp"
#include "ops/shape.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

const ReduceKernels& reduce_kernels_for(const Tensor& t) { return select_kernels<ReduceKernels>("reduce", t.device()); }

// The input rearranged as a dense (rows, n) matrix whose rows are reduced, and the output shapes.
struct Reduction {
  Tensor matrix;         // dense, (rows, n) elements
  int64_t rows = 1, n = 1;
  Shape kept_shape;      // output shape with reduced dims removed
  Shape keepdim_shape;   // output shape with reduced dims kept as 1
};

// `dims` mapped into [0, ndim), sorted, each at most once. A 0-d tensor accepts dim 0 or -1 and
// has nothing to reduce (as in PyTorch), so its list comes back empty.
std::vector<int> reduced_dims(const Tensor& x, std::vector<int> dims, const char* op) {
  STRATA_CHECK(x.defined(), op, ": called on an undefined tensor");
  const std::vector<int> given = dims;
  for (int& d : dims) d = normalize_dim(d, x.ndim(), op);
  std::sort(dims.begin(), dims.end());
  if (std::adjacent_find(dims.begin(), dims.end()) != dims.end()) {
    std::string list;
    for (int d : given) {
      if (!list.empty()) list += ',';
      list += std::to_string(d);
    }
    fail(op, ": dimension list [", list, "] names a dimension twice (tensor of shape ", x.shape(), ")");
  }
  if (x.ndim() == 0) dims.clear();
  return dims;
}

Reduction prepare(const Tensor& x, const std::vector<int>& dims_in, const char* op) {
  const std::vector<int> dims = reduced_dims(x, dims_in, op);
  STRATA_CHECK(is_floating(x.dtype()), op, ": expected a floating-point tensor, got ", dtype_name(x.dtype()));
  Reduction r;
  std::vector<int> order;
  for (int i = 0; i < x.ndim(); ++i) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), i);
    r.keepdim_shape.push_back(reduced ? 1 : x.shape()[i]);
    if (reduced) {
      r.n *= x.shape()[i];
    } else {
      order.push_back(i);
      r.kept_shape.push_back(x.shape()[i]);
      r.rows *= x.shape()[i];
    }
  }
  order.insert(order.end(), dims.begin(), dims.end());
  // Not recorded as a graph node: a bare sum is no graph op, and its read of x must show to a trace.
  r.matrix = permute_of(x.detach(), order).contiguous();
  return r;
}

std::vector<int> all_dims(const Tensor& x, const char* op) {
  STRATA_CHECK(x.defined(), op, ": called on an undefined tensor");
  std::vector<int> dims(x.ndim());
  for (int i = 0; i < x.ndim(); ++i) dims[i] = i;
  return dims;
}

}  // namespace

Tensor Tensor::sum(const std::vector<int>& dims, bool keepdim) const {
  Reduction r = prepare(*this, dims, "sum");
  Tensor out = empty(keepdim ? r.keepdim_shape : r.kept_shape, dtype(), device());
  reduce_kernels_for(*this).sum_rows(out, r.matrix, r.rows, r.n);
  if (autograd::needs_grad({*this}))
    autograd::record("sum", out, {*this}, [shape = shape(), kd = r.keepdim_shape](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{expand_to(gy.reshape(kd), shape).contiguous()};
    });
  return out;
}

Tensor Tensor::sum() const { return sum(all_dims(*this, "sum")); }

Tensor Tensor::mean(const std::vector<int>& dims, bool keepdim) const {
  graph::OpTrace trace;
  int64_t count = 1;
  const std::vector<int> reduced = reduced_dims(*this, dims, "mean");
  for (int d : reduced) count *= shape()[d];
  STRATA_CHECK(count > 0, "mean: reducing over an empty dimension of shape ", shape());
  Tensor out = sum(dims, keepdim) * (1.0 / static_cast<double>(count));
  if (trace.recording()) trace.record(graph::OpKind::Mean, graph::MeanAttrs{reduced, keepdim}, {*this}, out);
  return out;
}

Tensor Tensor::mean() const { return mean(all_dims(*this, "mean")); }

Tensor Tensor::max(int dim, bool keepdim) const {
  Reduction r = prepare(*this, {dim}, "max");
  STRATA_CHECK(r.n > 0, "max: reducing over an empty dimension of shape ", shape());
  Tensor values = empty(keepdim ? r.keepdim_shape : r.kept_shape, dtype(), device());
  Tensor indices = empty(values.shape(), DType::I64, device());
  reduce_kernels_for(*this).max_rows(values, indices, r.matrix, r.rows, r.n);
  if (autograd::needs_grad({*this})) {
    if (ndim() == 0) {  // the value itself
      autograd::record("max", values, {*this}, [](const Tensor& gy, const autograd::Node&) {
        return std::vector<Tensor>{gy};
      });
      return values;
    }
    const int d = normalize_dim(dim, ndim(), "max");
    autograd::record("max", values, {*this}, [shape = shape(), d, indices, rows = r.rows, n = r.n](
                                                 const Tensor& gy, const autograd::Node&) {
      // Scatter into the (rows, n) arrangement, then move the reduced dim back into place.
      Shape moved;
      for (int i = 0; i < shape.ndim(); ++i)
        if (i != d) moved.push_back(shape[i]);
      moved.push_back(shape[d]);
      Tensor g = empty(moved, gy.dtype(), gy.device());
      select_kernels<ReduceKernels>("max", gy.device()).max_rows_backward(g, gy.contiguous(), indices, rows, n);
      std::vector<int> back(shape.ndim());
      for (int i = 0, k = 0; i < shape.ndim(); ++i) back[i] = i == d ? shape.ndim() - 1 : k++;
      return std::vector<Tensor>{g.permute(back)};
    });
  }
  return values;
}

Tensor Tensor::max() const {
  STRATA_CHECK(defined(), "max: called on an undefined tensor");
  return flatten().max(0);
}

Tensor Tensor::argmax(int dim, bool keepdim) const {
  Reduction r = prepare(*this, {dim}, "argmax");
  STRATA_CHECK(r.n > 0, "argmax: reducing over an empty dimension of shape ", shape());
  Tensor indices = empty(keepdim ? r.keepdim_shape : r.kept_shape, DType::I64, device());
  reduce_kernels_for(*this).max_rows(Tensor(), indices, r.matrix, r.rows, r.n);
  return indices;
}

}  // namespace strata
