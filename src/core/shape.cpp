#include "strata/shape.hpp"

#include <ostream>
#include <sstream>

#include "strata/error.hpp"

namespace strata {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  STRATA_CHECK(dims.size() <= static_cast<std::size_t>(kMaxDims), "shape: at most ", kMaxDims,
               " dimensions are supported, got ", dims.size());
  for (int64_t d : dims) push_back(d);
}

int64_t Shape::at(int i) const {
  STRATA_CHECK(ndim_ > 0, "shape: dimension ", i, " of a 0-dimensional shape []");
  return dims_[normalize_dim(i, ndim_, "shape")];
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim_; ++i)
    STRATA_CHECK(!__builtin_mul_overflow(n, dims_[i], &n), "shape: the number of elements of ", *this,
                 " overflows int64");
  return n;
}

void Shape::push_back(int64_t d) {
  STRATA_CHECK(ndim_ < kMaxDims, "shape: at most ", kMaxDims, " dimensions are supported");
  dims_[ndim_++] = d;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < ndim_; ++i) {
    if (i) s += ",";
    s += std::to_string(dims_[i]);
  }
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.ndim_ != b.ndim_) return false;
  for (int i = 0; i < a.ndim_; ++i)
    if (a.dims_[i] != b.dims_[i]) return false;
  return true;
}

std::ostream& operator<<(std::ostream& out, const Shape& shape) { return out << shape.str(); }

std::optional<Shape> parse_shape(const std::string& text, int64_t max_size, int max_dims) {
  Shape shape;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    std::size_t used = 0;
    long long v = 0;
    try {
      v = std::stoll(item, &used);
    } catch (const std::exception&) {
      return std::nullopt;
    }
    if (used != item.size() || v <= 0 || v > max_size || shape.ndim() >= max_dims) return std::nullopt;
    shape.push_back(v);
  }
  if (shape.ndim() == 0 || (!text.empty() && text.back() == ',')) return std::nullopt;
  return shape;
}

Shape contiguous_strides(const Shape& shape) {
  Shape strides = shape;
  int64_t stride = 1;
  for (int i = shape.ndim() - 1; i >= 0; --i) {
    strides[i] = stride;
    stride *= shape[i] > 0 ? shape[i] : 1;
  }
  return strides;
}

int normalize_dim(int dim, int ndim, const char* op) {
  const int lo = ndim == 0 ? -1 : -ndim, hi = ndim == 0 ? 0 : ndim - 1;
  STRATA_CHECK(dim >= lo && dim <= hi, op, ": dimension ", dim, " is out of range for a tensor with ",
               ndim, " dimensions (expected ", lo, " to ", hi, ")");
  return dim < 0 ? dim + (ndim == 0 ? 1 : ndim) : dim;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  const int n = a.ndim() > b.ndim() ? a.ndim() : b.ndim();
  Shape out;
  for (int i = 0; i < n; ++i) {
    const int ia = i - (n - a.ndim()), ib = i - (n - b.ndim());
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    STRATA_CHECK(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                 " cannot be broadcast together (dimension ", i, ": ", da, " vs ", db, ")");
    out.push_back(da == 1 ? db : da);
  }
  return out;
}

}  // namespace strata
