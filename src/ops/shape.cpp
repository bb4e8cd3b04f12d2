// View ops (view, reshape, permute, slice, expand, ...), copies (contiguous, clone, to) and
// concatenation, with their gradients.
#include "ops/shape.hpp"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "core/dispatch.hpp"
#include "core/layout.hpp"
#include "core/parallel_copy.hpp"
#include "core/tensor_impl.hpp"
#include "graph/trace.hpp"
#include "ops/elementwise.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"

namespace strata {
namespace {

// dst (Strided, any strides) = src in any layout.
void copy_into(const Tensor& dst, const Tensor& src) {
  select_kernels<ElementwiseKernels>("copy", dst.device()).copy(dst, src.layout() == Layout::Strided ? src : to_layout(src.detach(), Layout::Strided));
}

// Replaces one -1 in `shape` by the size that makes it hold `numel` elements.
Shape infer_shape(const Shape& shape, int64_t numel, const char* op, const Shape& from) {
  Shape out = shape;
  int infer = -1;
  int64_t known = 1;
  for (int i = 0; i < shape.ndim(); ++i) {
    if (shape[i] == -1) {
      STRATA_CHECK(infer < 0, op, ": only one dimension can be -1, got ", shape);
      infer = i;
    } else {
      STRATA_CHECK(shape[i] >= 0, op, ": invalid size ", shape[i], " in shape ", shape);
      STRATA_CHECK(!__builtin_mul_overflow(known, shape[i], &known), op, ": the number of elements of ", shape,
                   " overflows int64");
    }
  }
  if (infer >= 0) {
    STRATA_CHECK(known != 0 && numel % known == 0, op, ": shape ", shape, " is invalid for a tensor of shape ",
                 from, " (", numel, " elements)");
    out[infer] = numel / known;
  }
  STRATA_CHECK(out.numel() == numel, op, ": shape ", shape, " is invalid for a tensor of shape ", from, " (",
               numel, " elements)");
  return out;
}

// Strides that let `shape` view the memory of (old_shape, old_strides), or false when only a copy
// can (PyTorch's computeStride: split the old dims into contiguous chunks, then map new dims onto them).
bool view_strides(const Shape& old_shape, const Shape& old_strides, const Shape& shape, Shape& strides) {
  strides = shape;
  if (old_shape.numel() == 0 || old_shape.ndim() == 0) {
    strides = contiguous_strides(shape);
    return true;
  }
  int view_d = shape.ndim() - 1;
  int64_t chunk_base_stride = old_strides[old_shape.ndim() - 1];
  int64_t tensor_numel = 1, view_numel = 1;
  for (int tensor_d = old_shape.ndim() - 1; tensor_d >= 0; --tensor_d) {
    tensor_numel *= old_shape[tensor_d];
    if (tensor_d == 0 || (old_shape[tensor_d - 1] != 1 &&
                          old_strides[tensor_d - 1] != tensor_numel * chunk_base_stride)) {
      while (view_d >= 0 && (view_numel < tensor_numel || shape[view_d] == 1)) {
        strides[view_d] = view_numel * chunk_base_stride;
        view_numel *= shape[view_d];
        --view_d;
      }
      if (view_numel != tensor_numel) return false;
      if (tensor_d > 0) {
        chunk_base_stride = old_strides[tensor_d - 1];
        tensor_numel = 1;
        view_numel = 1;
      }
    }
  }
  return view_d == -1;
}

Tensor reshape_grad(const Tensor& out, const Tensor& in, const char* name) {
  if (autograd::needs_grad({in}))
    autograd::record(name, out, {in}, [shape = in.shape()](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{gy.reshape(shape)};
    });
  return out;
}

Tensor view_of(const Tensor& t, const Shape& new_shape) {
  if (t.layout() != Layout::Strided) return t.contiguous().view(new_shape);
  const Shape shape_out = infer_shape(new_shape, t.numel(), "view", t.shape());
  Shape strides_out;
  STRATA_CHECK(view_strides(t.shape(), t.strides(), shape_out, strides_out), "view: shape ", shape_out,
               " is not compatible with the strides of a tensor of shape ", t.shape(), " and strides ",
               t.strides(), "; use reshape() (which copies)");
  return reshape_grad(make_view(t, shape_out, strides_out, t.offset()), t, "view");
}

Tensor reshape_of(const Tensor& t, const Shape& new_shape) {
  if (t.layout() != Layout::Strided) return t.contiguous().reshape(new_shape);
  const Shape shape_out = infer_shape(new_shape, t.numel(), "reshape", t.shape());
  Shape strides_out;
  if (view_strides(t.shape(), t.strides(), shape_out, strides_out))
    return reshape_grad(make_view(t, shape_out, strides_out, t.offset()), t, "reshape");
  return t.contiguous().view(shape_out);
}

// A reshape recorded as a graph node while tracing (view, reshape and what calls them: flatten,
// squeeze, unsqueeze).
template <class F>
Tensor traced_reshape(const Tensor& x, F compute) {
  graph::OpTrace trace;
  Tensor out = compute();
  if (trace.recording()) trace.record(graph::OpKind::Reshape, graph::ReshapeAttrs{out.shape()}, {x}, out);
  return out;
}

// A view of every step-th index of dimension `dim` in [start, end) (negative bounds count from the end).
Tensor slice_of(const Tensor& t, int dim, int64_t start, int64_t end, int64_t step) {
  if (t.layout() != Layout::Strided) return slice_of(t.contiguous(), dim, start, end, step);
  const int d = normalize_dim(dim, t.ndim(), "slice");
  STRATA_CHECK(step > 0, "slice: step must be positive, got ", step);
  const int64_t n = t.shape()[d];
  auto clamp = [n](int64_t i) { return std::clamp<int64_t>(i < 0 ? i + n : i, 0, n); };
  start = clamp(start);
  end = std::max(clamp(end), start);
  Shape s = t.shape(), st = t.strides();
  s[d] = (end - start + step - 1) / step;
  st[d] = t.strides()[d] * step;
  Tensor out = make_view(t, s, st, t.offset() + start * t.strides()[d]);
  if (autograd::needs_grad({t}))
    autograd::record("slice", out, {t},
                     [shape = t.shape(), d, start, end, step](const Tensor& gy, const autograd::Node&) {
      Tensor g = zeros(shape, gy.dtype());
      copy_into(g.slice(d, start, end, step), gy);
      return std::vector<Tensor>{g};
    });
  return out;
}

}  // namespace

Tensor permute_of(const Tensor& t, const std::vector<int>& dims) {
  if (t.layout() != Layout::Strided) return permute_of(t.contiguous(), dims);
  STRATA_CHECK(static_cast<int>(dims.size()) == t.ndim(), "permute: got ", dims.size(),
               " dimensions for a tensor with ", t.ndim());
  Shape s, st;
  std::vector<int> inverse(dims.size(), -1);
  for (std::size_t i = 0; i < dims.size(); ++i) {
    const int d = normalize_dim(dims[i], t.ndim(), "permute");
    STRATA_CHECK(inverse[d] < 0, "permute: dimension ", d, " appears twice");
    inverse[d] = static_cast<int>(i);
    s.push_back(t.shape()[d]);
    st.push_back(t.strides()[d]);
  }
  Tensor out = make_view(t, s, st, t.offset());
  if (autograd::needs_grad({t}))
    autograd::record("permute", out, {t}, [inverse](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{gy.permute(inverse)};
    });
  return out;
}

Tensor Tensor::view(const Shape& new_shape) const {
  return traced_reshape(*this, [&] { return view_of(*this, new_shape); });
}

Tensor Tensor::reshape(const Shape& new_shape) const {
  return traced_reshape(*this, [&] { return reshape_of(*this, new_shape); });
}

Tensor Tensor::permute(const std::vector<int>& dims) const {
  graph::OpTrace trace;
  Tensor out = permute_of(*this, dims);
  if (trace.recording()) {
    std::vector<int> normalized;
    for (int d : dims) normalized.push_back(normalize_dim(d, ndim(), "permute"));
    trace.record(graph::OpKind::Permute, graph::PermuteAttrs{normalized}, {*this}, out);
  }
  return out;
}

Tensor Tensor::transpose(int dim0, int dim1) const {
  std::vector<int> dims(ndim());
  std::iota(dims.begin(), dims.end(), 0);
  std::swap(dims[normalize_dim(dim0, ndim(), "transpose")], dims[normalize_dim(dim1, ndim(), "transpose")]);
  return permute(dims);
}

Tensor Tensor::slice(int dim, int64_t start, int64_t end, int64_t step) const {
  graph::OpTrace trace;
  Tensor out = slice_of(*this, dim, start, end, step);
  if (trace.recording())
    trace.record(graph::OpKind::Slice, graph::SliceAttrs{normalize_dim(dim, ndim(), "slice"), start, end, step},
                 {*this}, out);
  return out;
}

Tensor Tensor::unsqueeze(int dim) const {
  const int d = normalize_dim(dim, ndim() + 1, "unsqueeze");
  Shape s;
  for (int i = 0; i < ndim(); ++i) {
    if (i == d) s.push_back(1);
    s.push_back(shape()[i]);
  }
  if (d == ndim()) s.push_back(1);
  return reshape(s);
}

Tensor Tensor::squeeze(int dim) const {
  const int d = normalize_dim(dim, ndim(), "squeeze");
  if (shape()[d] != 1) return *this;
  Shape s;
  for (int i = 0; i < ndim(); ++i)
    if (i != d) s.push_back(shape()[i]);
  return reshape(s);
}

Tensor Tensor::flatten(int start_dim, int end_dim) const {
  if (ndim() == 0) return reshape({1});
  const int a = normalize_dim(start_dim, ndim(), "flatten"), b = normalize_dim(end_dim, ndim(), "flatten");
  STRATA_CHECK(a <= b, "flatten: start_dim ", start_dim, " comes after end_dim ", end_dim);
  Shape s;
  for (int i = 0; i < a; ++i) s.push_back(shape()[i]);
  int64_t merged = 1;
  for (int i = a; i <= b; ++i) merged *= shape()[i];
  s.push_back(merged);
  for (int i = b + 1; i < ndim(); ++i) s.push_back(shape()[i]);
  return reshape(s);
}

Tensor Tensor::expand(const Shape& new_shape) const {
  if (layout() != Layout::Strided) return contiguous().expand(new_shape);
  STRATA_CHECK(broadcast_shapes(shape(), new_shape, "expand") == new_shape, "expand: cannot expand shape ",
               shape(), " to ", new_shape);
  Tensor out = expand_to(*this, new_shape).detach();
  if (autograd::needs_grad({*this}))
    autograd::record("expand", out, {*this}, [shape = shape()](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{sum_to(gy, shape)};
    });
  return out;
}

Tensor Tensor::contiguous() const {
  if (layout() != Layout::Strided) return to_layout(*this, Layout::Strided);
  return is_contiguous() ? *this : clone();
}

Tensor Tensor::clone() const {
  Tensor out = empty_in(shape(), dtype(), device(), layout());
  if (layout() == Layout::Strided) copy_into(out, *this);
  else select_kernels<ElementwiseKernels>("clone", device()).copy(flat_view(out), flat_view(*this));
  if (autograd::needs_grad({*this}))
    autograd::record("clone", out, {*this}, [](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{gy};
    });
  return out;
}

Tensor Tensor::to(DType target) const {
  if (target == dtype()) return *this;
  Tensor out = empty(shape(), target, device());
  copy_into(out, *this);
  if (is_floating(target) && autograd::needs_grad({*this}))
    autograd::record("to", out, {*this}, [source = dtype()](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{gy.to(source)};
    });
  return out;
}

namespace {

// Copies, for each of the n images, `count` elements from src (image stride src_stride, from
// src_at) to dst (image stride dst_stride, from dst_at): runs of channel blocks between Blocked16
// tensors, whose (C/16, spatial, 16) blocks of one image are contiguous.
void copy_runs(const Tensor& dst, int64_t dst_stride, int64_t dst_at, const Tensor& src, int64_t src_stride,
               int64_t src_at, int64_t n, int64_t count) {
  const auto bytes = static_cast<int64_t>(dtype_size(src.dtype()));
  parallel_copy_runs(static_cast<char*>(dst.mutable_raw_data()) + dst_at * bytes, dst_stride * bytes,
                     static_cast<const char*>(src.raw_data()) + src_at * bytes, src_stride * bytes, n, count * bytes);
}

// Channels [start, start + size) of a Blocked16 tensor, start and size multiples of 16: Blocked16.
Tensor channel_blocks(const Tensor& t, int64_t start, int64_t size) {
  Shape shape = t.shape();
  const int64_t per_channel = t.numel() / (shape[0] * shape[1]);
  shape[1] = size;
  Tensor out = empty_in(shape, t.dtype(), t.device(), Layout::Blocked16);
  copy_runs(out, size * per_channel, 0, t, t.shape()[1] * per_channel, start * per_channel, shape[0],
            size * per_channel);
  return out;
}

// The concatenation of `tensors` along the channels in oneDNN's blocked layout, which the
// result keeps: where every tensor's channels are a multiple of 16 and one is blocked already
// (Inception's paths, from blocked convolutions), each image's blocks of each tensor follow each
// other, and the layers after it read it without a conversion.
bool cat_stays_blocked(const std::vector<Tensor>& tensors, int d) {
  if (d != 1) return false;
  bool blocked = false;
  for (const Tensor& t : tensors) {
    if (!blockable(t.shape())) return false;
    blocked = blocked || t.layout() == Layout::Blocked16;
  }
  return blocked;
}

Tensor blocked_cat(const std::vector<Tensor>& tensors, const Shape& shape) {
  return cat_into(empty_in(shape, tensors[0].dtype(), tensors[0].device(), Layout::Blocked16), tensors);
}

}  // namespace

Tensor cat_into(const Tensor& out, const std::vector<Tensor>& parts, int* copied) {
  const Shape& shape = out.shape();
  STRATA_CHECK(out.layout() == Layout::Blocked16, "cat_into: the buffer must be Blocked16");
  const int64_t per_channel = out.numel() / (shape[0] * shape[1]);
  int64_t at = 0;
  for (const Tensor& part : parts) {
    STRATA_CHECK(blockable(part.shape()) && part.shape()[0] == shape[0] &&
                     at / per_channel + part.shape()[1] <= shape[1],
                 "cat_into: part of shape ", part.shape(), " does not fit a buffer of shape ", shape);
    const int64_t count = part.shape()[1] * per_channel;
    const bool in_place = shape[0] == 1 && part.layout() == Layout::Blocked16 &&
                          part.storage() == out.storage() && part.offset() == out.offset() + at;
    if (!in_place) {
      copy_runs(out, shape[1] * per_channel, at, to_layout(part.detach(), Layout::Blocked16), count, 0, shape[0],
                count);
      if (copied != nullptr) ++*copied;
    }
    at += count;
  }
  STRATA_CHECK(at == shape[1] * per_channel, "cat_into: the parts fill ", at / per_channel, " of the buffer's ",
               shape[1], " channels");
  return out;
}

Tensor cat(const std::vector<Tensor>& tensors, int dim) {
  graph::OpTrace trace;
  STRATA_CHECK(!tensors.empty(), "cat: expected at least one tensor");
  const Tensor& first = tensors.front();
  STRATA_CHECK(first.defined(), "cat: tensor 0 is undefined");
  STRATA_CHECK(first.ndim() > 0, "cat: 0-dimensional tensors cannot be concatenated; unsqueeze(0) them first");
  const int d = normalize_dim(dim, first.ndim(), "cat");
  Shape shape = first.shape();
  shape[d] = 0;
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const Tensor& t = tensors[i];
    STRATA_CHECK(t.defined(), "cat: tensor ", i, " is undefined");
    STRATA_CHECK(t.ndim() == first.ndim(), "cat: tensor ", i, " has ", t.ndim(), " dimensions, tensor 0 has ",
                 first.ndim(), " (shapes ", t.shape(), " and ", first.shape(), ")");
    STRATA_CHECK(t.dtype() == first.dtype() && t.device() == first.device(), "cat: tensor ", i,
                 " differs in dtype or device from tensor 0");
    for (int k = 0; k < t.ndim(); ++k)
      STRATA_CHECK(k == d || t.shape()[k] == first.shape()[k], "cat: tensor ", i, " has shape ", t.shape(),
                   " but tensor 0 has ", first.shape(), "; all sizes except dimension ", d, " must match");
    shape[d] += t.shape()[d];
  }
  std::vector<int64_t> offsets;
  int64_t at = 0;
  for (const Tensor& t : tensors) {
    offsets.push_back(at);
    at += t.shape()[d];
  }
  Tensor out;
  if (cat_stays_blocked(tensors, d)) {
    out = blocked_cat(tensors, shape);
  } else {
    out = empty(shape, first.dtype(), first.device());
    for (std::size_t i = 0; i < tensors.size(); ++i)
      copy_into(out.slice(d, offsets[i], offsets[i] + tensors[i].shape()[d]), tensors[i]);
  }
  if (autograd::needs_grad(tensors)) {
    std::vector<int64_t> sizes;
    for (const Tensor& t : tensors) sizes.push_back(t.shape()[d]);
    autograd::record("cat", out, tensors, [d, offsets, sizes](const Tensor& gy, const autograd::Node& node) {
      std::vector<Tensor> grads(offsets.size());
      for (std::size_t i = 0; i < grads.size(); ++i) {
        if (!node.needs_input_grad(i)) continue;
        const bool blocks = gy.layout() == Layout::Blocked16 && offsets[i] % kChannelBlock == 0 &&
                            sizes[i] % kChannelBlock == 0;
        grads[i] = blocks ? channel_blocks(gy, offsets[i], sizes[i]) : gy.slice(d, offsets[i], offsets[i] + sizes[i]);
      }
      return grads;
    });
  }
  if (trace.recording()) trace.record(graph::OpKind::Cat, graph::CatAttrs{d}, tensors, out);
  return out;
}

}  // namespace strata
