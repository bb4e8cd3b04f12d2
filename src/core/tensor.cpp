// Tensor metadata, creation and element access. View ops live in ops/shape.cpp, arithmetic in
// ops/elementwise.cpp and ops/reduce.cpp, printing in core/print.cpp.
#include "strata/tensor.hpp"

#include <cmath>
#include <limits>

#include "core/dtype_dispatch.hpp"
#include "core/tensor_impl.hpp"
#include "strata/autograd.hpp"
#include "strata/random.hpp"
#include "strata/storage.hpp"

namespace strata {

Tensor::Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

const TensorImpl& Tensor::get() const {
  STRATA_CHECK(impl_ != nullptr, "tensor: operation on an undefined tensor");
  return *impl_;
}

const Shape& Tensor::shape() const { return get().shape; }
const Shape& Tensor::strides() const { return get().strides; }
int64_t Tensor::offset() const { return get().offset; }
DType Tensor::dtype() const { return get().dtype; }
Device Tensor::device() const { return get().storage->device(); }
const std::shared_ptr<Storage>& Tensor::storage() const { return get().storage; }
int64_t Tensor::size(int dim) const {
  STRATA_CHECK(ndim() > 0, "size: dimension ", dim, " of a 0-dimensional tensor");
  return shape()[normalize_dim(dim, ndim(), "size")];
}

Layout Tensor::layout() const { return get().layout; }

bool Tensor::is_contiguous() const {
  const TensorImpl& t = get();
  if (t.layout != Layout::Strided) return false;
  int64_t expected = 1;
  for (int i = t.shape.ndim() - 1; i >= 0; --i) {
    if (t.shape[i] == 1) continue;
    if (t.strides[i] != expected) return false;
    expected *= t.shape[i];
  }
  return true;
}

namespace {
thread_local AccessObserver access_observer = nullptr;
}  // namespace

void set_access_observer(AccessObserver observer) { access_observer = observer; }

const void* Tensor::raw_data() const {
  const TensorImpl& t = get();
  if (access_observer != nullptr) access_observer(*t.storage, false);
  return static_cast<const char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

void* Tensor::mutable_raw_data() const {
  const TensorImpl& t = get();
  t.storage->bump_version();
  if (access_observer != nullptr) access_observer(*t.storage, true);
  return static_cast<char*>(t.storage->data()) + t.offset * static_cast<int64_t>(dtype_size(t.dtype));
}

void Tensor::check_dtype(DType expected, const char* what) const {
  STRATA_CHECK(dtype() == expected, what, ": tensor has dtype ", dtype_name(dtype()), ", expected ",
               dtype_name(expected));
}

double Tensor::item() const {
  STRATA_CHECK(numel() == 1, "item: tensor of shape ", shape(), " has ", numel(),
               " elements, expected exactly one");
  STRATA_CHECK(device().is_cpu(), "item: tensor is on ", device().str(), "; copy it to the cpu first");
  return visit_any(dtype(), [&]<class T>() { return static_cast<double>(*data<T>()); });
}

template <class T>
std::vector<T> Tensor::to_vector() const {
  STRATA_CHECK(device().is_cpu(), "to_vector: tensor is on ", device().str());
  const Tensor dense = contiguous();
  std::vector<T> out(static_cast<std::size_t>(dense.numel()));
  visit_any(dense.dtype(), [&]<class S>() {
    const S* src = dense.data<S>();
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<T>(src[i]);
  });
  return out;
}
template std::vector<float> Tensor::to_vector<float>() const;
template std::vector<double> Tensor::to_vector<double>() const;
template std::vector<int64_t> Tensor::to_vector<int64_t>() const;

Tensor Tensor::detach() const { return make_view(*this, shape(), strides(), offset()); }

// ---- Autograd state ----

bool Tensor::requires_grad() const {
  const TensorImpl& t = get();
  return t.autograd && t.autograd->requires_grad;
}

Tensor& Tensor::set_requires_grad(bool enabled) {
  STRATA_CHECK(is_leaf(), "set_requires_grad: only leaf tensors can change requires_grad (this one "
               "is the output of '", grad_fn()->name(), "'); use detach() to cut it from the graph");
  STRATA_CHECK(!enabled || is_floating(dtype()), "set_requires_grad: only floating-point tensors can "
               "require grad, this one is ", dtype_name(dtype()));
  impl_->meta().requires_grad = enabled;
  return *this;
}

Tensor Tensor::grad() const {
  const TensorImpl& t = get();
  return t.autograd ? t.autograd->grad : Tensor();
}

void Tensor::set_grad(const Tensor& grad) const {
  STRATA_CHECK(defined(), "set_grad: called on an undefined tensor");
  if (grad.defined()) {
    STRATA_CHECK(grad.shape() == shape(), "set_grad: gradient of shape ", grad.shape(),
                 " does not match the tensor's shape ", shape());
    STRATA_CHECK(grad.dtype() == dtype() && grad.device() == device(), "set_grad: gradient is ",
                 dtype_name(grad.dtype()), " on ", grad.device().str(), " but the tensor is ", dtype_name(dtype()),
                 " on ", device().str());
  }
  impl_->meta().grad = grad;
}

void Tensor::zero_grad() const {
  if (impl_ && impl_->autograd) impl_->autograd->grad = Tensor();
}

std::shared_ptr<autograd::Node> Tensor::grad_fn() const {
  const TensorImpl& t = get();
  return t.autograd ? t.autograd->grad_fn : nullptr;
}

void Tensor::backward(const Tensor& grad, bool retain_graph) const {
  autograd::backward(*this, grad, retain_graph);
}

// ---- Views ----

Tensor make_view(const Tensor& base, const Shape& shape, const Shape& strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.storage();
  impl->shape = shape;
  impl->strides = strides;
  impl->offset = offset;
  impl->dtype = base.dtype();
  impl->layout = base.layout();
  return Tensor(std::move(impl));
}

// ---- Creation ----

Tensor empty(const Shape& shape, DType dtype, Device device) { return empty_from(cpu_allocator(), shape, dtype, device); }

Tensor empty_from(Allocator& allocator, const Shape& shape, DType dtype, Device device) {
  int64_t numel = 1;
  for (int64_t d : shape) {
    STRATA_CHECK(d >= 0, "empty: negative size in shape ", shape);
    STRATA_CHECK(d == 0 || numel <= std::numeric_limits<int64_t>::max() / 8 / d,
                 "empty: shape ", shape, " has too many elements");
    numel *= d;
  }
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = std::make_shared<Storage>(static_cast<std::size_t>(numel) * dtype_size(dtype), device, &allocator);
  impl->shape = shape;
  impl->strides = contiguous_strides(shape);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor full(const Shape& shape, double value, DType dtype) {
  Tensor t = empty(shape, dtype);
  t.fill_(value);
  return t;
}

Tensor zeros(const Shape& shape, DType dtype) { return full(shape, 0.0, dtype); }
Tensor ones(const Shape& shape, DType dtype) { return full(shape, 1.0, dtype); }
Tensor empty_like(const Tensor& t) { return empty(t.shape(), t.dtype(), t.device()); }
Tensor zeros_like(const Tensor& t) { return empty_like(t).fill_(0.0); }
Tensor ones_like(const Tensor& t) { return empty_like(t).fill_(1.0); }

Tensor arange(double start, double end, double step, DType dtype) {
  STRATA_CHECK(step != 0.0 && std::isfinite(step), "arange: step must be finite and non-zero, got ", step);
  STRATA_CHECK(std::isfinite(start) && std::isfinite(end), "arange: start and end must be finite");
  const double count = std::ceil((end - start) / step);
  STRATA_CHECK(count < 1e12, "arange: ", count, " elements is too many");
  const auto n = static_cast<int64_t>(count > 0 ? count : 0);
  Tensor t = empty({n}, dtype);
  visit_any(dtype, [&]<class T>() {
    T* p = t.mutable_data<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(start + static_cast<double>(i) * step);
  });
  return t;
}

Tensor arange(int64_t n, DType dtype) { return arange(0.0, static_cast<double>(n), 1.0, dtype); }

namespace {
template <class T>
Tensor from_values(std::span<const T> values, const Shape& shape) {
  const Shape s = shape.empty() ? Shape{static_cast<int64_t>(values.size())} : shape;
  STRATA_CHECK(s.numel() == static_cast<int64_t>(values.size()), "from_data: ", values.size(),
               " values do not fill shape ", s, " (", s.numel(), " elements)");
  Tensor t = empty(s, dtype_of<T>);
  std::copy(values.begin(), values.end(), t.mutable_data<T>());
  return t;
}
}  // namespace

Tensor from_data(std::span<const float> values, const Shape& shape) { return from_values(values, shape); }
Tensor from_data(std::span<const double> values, const Shape& shape) { return from_values(values, shape); }
Tensor from_data(std::span<const int64_t> values, const Shape& shape) { return from_values(values, shape); }
Tensor from_data(std::initializer_list<float> values, const Shape& shape) {
  return from_values(std::span<const float>(values.begin(), values.size()), shape);
}

void fill_uniform(const Tensor& t, double low, double high, Generator& gen) {
  STRATA_CHECK(low <= high, "uniform: low ", low, " is greater than high ", high);
  STRATA_CHECK(t.is_contiguous(), "fill_uniform: the tensor of shape ", t.shape(),
               " is not contiguous; fill a contiguous one and copy it in");
  visit_floating(t.dtype(), "uniform", [&]<class T>() {
    T* p = t.mutable_data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(low + (high - low) * gen.uniform());
  });
}

void fill_normal(const Tensor& t, double mean, double stddev, Generator& gen) {
  STRATA_CHECK(stddev >= 0.0, "normal: standard deviation must be non-negative, got ", stddev);
  STRATA_CHECK(t.is_contiguous(), "fill_normal: the tensor of shape ", t.shape(),
               " is not contiguous; fill a contiguous one and copy it in");
  visit_floating(t.dtype(), "normal", [&]<class T>() {
    T* p = t.mutable_data<T>();
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(mean + stddev * gen.normal());
  });
}

Tensor uniform(const Shape& shape, double low, double high, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  fill_uniform(t, low, high, gen);
  return t;
}

Tensor normal(const Shape& shape, double mean, double stddev, Generator& gen, DType dtype) {
  Tensor t = empty(shape, dtype);
  fill_normal(t, mean, stddev, gen);
  return t;
}

}  // namespace strata
