// Tensor: a view (shape, strides in elements, offset) over reference-counted storage, with the
// autograd state of PyTorch's tensors (requires_grad, grad, grad_fn).
//
// Copying a Tensor copies the handle: both refer to the same data and autograd state, as in
// PyTorch. Logical layout of image batches is N,C,H,W (or N,C,D,H,W); strides are row-major
// unless a view op (permute, slice, expand) made them otherwise.
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>
#include <iosfwd>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "strata/dtype.hpp"
#include "strata/error.hpp"
#include "strata/shape.hpp"

namespace strata {

class Storage;
class Generator;
struct TensorImpl;
namespace autograd {
class Node;
}

// Physical arrangement of a tensor's elements.
//   Strided    shape + strides (row-major unless a view op made them otherwise).
//   Blocked16  image batches (N, C, H, W) or (N, C, D, H, W) with C a multiple of 16, stored as
//              (N, C/16, H, W, 16): channels in blocks of 16 innermost (oneDNN's nChw16c /
//              nCdhw16c). The oneDNN backend keeps activations this way from layer to layer; every
//              op accepts it, and ops without a blocked kernel convert to Strided first.
enum class Layout : uint8_t { Strided, Blocked16 };

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl);

  // ---- Metadata ----
  bool defined() const { return impl_ != nullptr; }
  const Shape& shape() const;
  const Shape& strides() const;
  int64_t offset() const;  // in elements, into the storage
  int ndim() const { return shape().ndim(); }
  int64_t size(int dim) const;  // negative dim counts from the end
  int64_t numel() const { return shape().numel(); }
  DType dtype() const;
  Device device() const;
  bool is_contiguous() const;  // Strided, row-major and dense
  Layout layout() const;
  const std::shared_ptr<Storage>& storage() const;

  // ---- Element access ----
  // Reading and writing are different calls (Caffe's cpu_data / mutable_cpu_data), because
  // caches derive values from a tensor's contents (a convolution's weights reordered for oneDNN,
  // a batch norm folded into them) and key them on its storage's version (Storage::version):
  //   data<T>()          the address of the first element, for reading: never bumps the version.
  //   mutable_data<T>()  the same address, for writing: bumps the version on every call, before
  //                      the write. Fetch it again after other ops have run; a pointer kept
  //                      across them writes behind the caches' back.
  // T must match dtype().
  template <class T>
  const T* data() const {
    check_dtype(dtype_of<T>, "data");
    return static_cast<const T*>(raw_data());
  }
  template <class T>
  T* mutable_data() const {
    check_dtype(dtype_of<T>, "mutable_data");
    return static_cast<T*>(mutable_raw_data());
  }
  const void* raw_data() const;
  void* mutable_raw_data() const;
  double item() const;  // the value of a one-element tensor
  // All elements in row-major order, converted to T.
  template <class T>
  std::vector<T> to_vector() const;

  // ---- Views and copies (differentiable) ----
  Tensor view(const Shape& shape) const;     // no copy; strides must allow it. One size may be -1.
  Tensor reshape(const Shape& shape) const;  // a view when possible, else a copy
  Tensor permute(const std::vector<int>& dims) const;
  Tensor transpose(int dim0, int dim1) const;
  Tensor slice(int dim, int64_t start, int64_t end, int64_t step = 1) const;  // [start, end)
  Tensor unsqueeze(int dim) const;
  Tensor squeeze(int dim) const;
  Tensor flatten(int start_dim = 0, int end_dim = -1) const;
  Tensor expand(const Shape& shape) const;  // broadcast view (stride 0 on expanded dims)
  Tensor contiguous() const;                // itself if already contiguous, else a dense row-major copy
  Tensor clone() const;                     // always a dense copy (in the same layout)
  Tensor to(DType dtype) const;             // converted copy (itself if already dtype)
  Tensor detach() const;                    // same data, no autograd history

  // ---- Arithmetic with broadcasting (differentiable) ----
  Tensor operator-() const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor pow(double exponent) const;
  Tensor abs() const;
  Tensor sum() const;
  Tensor sum(const std::vector<int>& dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(const std::vector<int>& dims, bool keepdim = false) const;
  Tensor max() const;
  Tensor max(int dim, bool keepdim = false) const;  // values
  Tensor argmax(int dim, bool keepdim = false) const;  // I64 indices, not differentiable
  Tensor matmul(const Tensor& other) const;

  // ---- In-place (not recorded by autograd) ----
  // Refused on a tensor that requires grad while grad mode is on (use NoGradGuard, as
  // optimizers do).
  Tensor& fill_(double value);
  Tensor& zero_() { return fill_(0.0); }
  Tensor& copy_(const Tensor& src);  // src broadcast to this shape, dtype converted
  Tensor& add_(const Tensor& other, double alpha = 1.0);  // this += alpha * other
  Tensor& add_(double value);                             // this += value (also for I64 counters)
  Tensor& mul_(double value);

  // ---- Autograd ----
  bool requires_grad() const;
  Tensor& set_requires_grad(bool enabled = true);  // leaves only
  Tensor grad() const;                              // undefined until a backward reaches it
  void set_grad(const Tensor& grad) const;
  void zero_grad() const;  // drops the gradient (set_grad({}))
  std::shared_ptr<autograd::Node> grad_fn() const;
  bool is_leaf() const { return grad_fn() == nullptr; }
  // Reverse-mode gradient of this tensor with respect to every leaf that requires grad.
  // `grad` defaults to 1 for a one-element tensor. The graph is freed unless retain_graph.
  void backward(const Tensor& grad = {}, bool retain_graph = false) const;

  // ---- Identity and printing ----
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  bool is_same(const Tensor& other) const { return impl_ == other.impl_; }
  // PyTorch-style text: "tensor([[0., 1.],\n        [2., 3.]], shape=[2,2])"; large tensors are
  // summarised with "..." (see src/core/print.cpp for the rules).
  std::string str() const;

 private:
  const TensorImpl& get() const;
  void check_dtype(DType expected, const char* what) const;
  std::shared_ptr<TensorImpl> impl_;
};

std::ostream& operator<<(std::ostream& out, const Tensor& tensor);

// ---- Creation ----
Tensor empty(const Shape& shape, DType dtype = DType::F32, Device device = Device::cpu());
Tensor zeros(const Shape& shape, DType dtype = DType::F32);
Tensor ones(const Shape& shape, DType dtype = DType::F32);
Tensor full(const Shape& shape, double value, DType dtype = DType::F32);
Tensor empty_like(const Tensor& t);
Tensor zeros_like(const Tensor& t);
Tensor ones_like(const Tensor& t);
// start, start+step, ... below end (above end when step < 0).
Tensor arange(double start, double end, double step = 1.0, DType dtype = DType::F32);
Tensor arange(int64_t n, DType dtype = DType::F32);  // 0, 1, ..., n-1
// Copies `values` (row-major) into a new tensor of `shape` (default: 1-D).
Tensor from_data(std::span<const float> values, const Shape& shape = {});
Tensor from_data(std::span<const double> values, const Shape& shape = {});
Tensor from_data(std::span<const int64_t> values, const Shape& shape = {});
Tensor from_data(std::initializer_list<float> values, const Shape& shape = {});
Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype = DType::F32);
Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen,
              DType dtype = DType::F32);
// The same values written into `t` (floating, contiguous), which keeps its storage: how a layer's
// initialisation fills its weights without a temporary of their size. Not recorded by autograd.
void fill_uniform(const Tensor& t, double low, double high, Generator& gen);
void fill_normal(const Tensor& t, double mean, double stddev, Generator& gen);

}  // namespace strata

#pragma GCC visibility pop
