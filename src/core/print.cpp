// Printing in PyTorch's style (torch/_tensor_str.py): nested brackets, one column width for all
// elements, rows wrapped at 80 characters, and only the first and last 3 entries of each dim
// when the tensor has more than 1000 elements. Number format as PyTorch's: "3." when every shown
// value is whole, "%.4f" otherwise, "%.4e" when the shown nonzero magnitudes span more than a
// factor 1000, exceed 1e8 or (for fractions) fall below 1e-4.
// Suffixes: ", shape=[...]" (2-D and up, or summarised), ", dtype=..." (unless f32), then
// ", grad_fn=<op>" or ", requires_grad=true".
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "core/dtype_dispatch.hpp"
#include "strata/autograd.hpp"
#include "strata/storage.hpp"
#include "strata/tensor.hpp"

namespace strata {
namespace {

constexpr int64_t kSummarizeAbove = 1000;  // elements
constexpr int64_t kEdgeItems = 3;          // shown at each end of a summarised dim
constexpr int kLineWidth = 80;             // characters per line of a printed row

// Indices shown along a dim of size n; -1 stands for the "..." between the two ends.
std::vector<int64_t> shown_indices(int64_t n, bool summarize) {
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      idx.push_back(-1);
      i = n - kEdgeItems;
    }
    idx.push_back(i);
  }
  return idx;
}

// One element of the tensor, read from its storage at an element offset.
struct Element {
  double real = 0.0;    // floating dtypes
  int64_t integer = 0;  // I64
};

Element read(const Tensor& t, int64_t offset) {
  Element e;
  visit_any(t.dtype(), [&]<class T>() {
    const T v = static_cast<const T*>(t.storage()->data())[offset];
    if constexpr (std::is_same_v<T, int64_t>) e.integer = v;
    else e.real = static_cast<double>(v);
  });
  return e;
}

// Storage offsets of the shown elements, in printing order.
void collect(const Tensor& t, int dim, int64_t offset, bool summarize, std::vector<int64_t>& out) {
  if (dim == t.ndim()) {
    out.push_back(offset);
    return;
  }
  for (int64_t i : shown_indices(t.shape()[dim], summarize))
    if (i >= 0) collect(t, dim + 1, offset + i * t.strides()[dim], summarize, out);
}

std::string printf_str(const char* format, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

class Formatter {
 public:
  Formatter(const Tensor& t, const std::vector<int64_t>& offsets) : is_integer_(t.dtype() == DType::I64) {
    if (is_integer_) {
      for (int64_t off : offsets) width_ = std::max(width_, static_cast<int>(format_raw(read(t, off)).size()));
      return;
    }
    std::vector<double> finite;  // nonzero finite values decide the mode and width
    for (int64_t off : offsets) {
      const double v = read(t, off).real;
      if (std::isfinite(v) && v != 0.0) finite.push_back(v);
    }
    if (finite.empty()) return;
    double lo = INFINITY, hi = 0.0;
    for (double v : finite) {
      lo = std::min(lo, std::abs(v));
      hi = std::max(hi, std::abs(v));
      if (v != std::ceil(v)) int_mode_ = false;
    }
    sci_mode_ = hi / lo > 1000.0 || hi > 1.0e8 || (!int_mode_ && lo < 1.0e-4);
    for (double v : finite) width_ = std::max(width_, static_cast<int>(format_raw({v, 0}).size()));
  }

  int width() const { return width_; }

  // The element right-aligned to the common width.
  std::string format(const Element& e) const {
    const std::string s = format_raw(e);
    return std::string(std::max<int>(0, width_ - static_cast<int>(s.size())), ' ') + s;
  }

 private:
  std::string format_raw(const Element& e) const {
    if (is_integer_) return std::to_string(e.integer);
    const double v = e.real;
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
    if (sci_mode_) return printf_str("%.4e", v);
    if (int_mode_) return printf_str("%.0f", v) + ".";
    return printf_str("%.4f", v);
  }

  bool is_integer_;
  bool int_mode_ = true;
  bool sci_mode_ = false;
  int width_ = 1;
};

// The bracketed text of dims [dim, ndim) starting at `offset`; `indent` is the column of the '['.
std::string format_dim(const Tensor& t, int dim, int64_t offset, int indent, const Formatter& f, bool summarize) {
  const std::vector<int64_t> idx = shown_indices(t.shape()[dim], summarize);
  const int64_t stride = t.strides()[dim];
  std::string out = "[";
  // Between lines: a comma, then one newline per dim below this one (so a blank line between
  // matrices of a 3-D tensor), then spaces up to the column after this '['.
  std::string line_break = ",";
  line_break.append(dim == t.ndim() - 1 ? 1 : t.ndim() - dim - 1, '\n');
  line_break.append(indent + 1, ' ');
  if (dim == t.ndim() - 1) {
    // A row: ", " between elements, a new line after as many as fit in kLineWidth.
    const std::size_t per_line = std::max(1, (kLineWidth - indent) / (f.width() + 2));
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k > 0) out += k % per_line == 0 ? line_break : std::string(", ");
      out += idx[k] < 0 ? " ..." : f.format(read(t, offset + idx[k] * stride));
    }
  } else {
    for (std::size_t k = 0; k < idx.size(); ++k) {
      if (k > 0) out += line_break;
      out += idx[k] < 0 ? "..." : format_dim(t, dim + 1, offset + idx[k] * stride, indent + 1, f, summarize);
    }
  }
  return out + "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  STRATA_CHECK(device().is_cpu(), "str: tensor is on ", device().str(), "; copy it to the cpu first");
  const bool summarize = numel() > kSummarizeAbove;
  std::vector<int64_t> offsets;
  collect(*this, 0, offset(), summarize, offsets);
  const Formatter f(*this, offsets);

  std::string out = "tensor(";
  if (ndim() == 0) {
    out += f.format(read(*this, offset()));
  } else if (numel() == 0) {
    out += "[]";
  } else {
    out += format_dim(*this, 0, offset(), static_cast<int>(out.size()), f, summarize);
  }
  if (ndim() > 1 || summarize) out += ", shape=" + shape().str();
  if (dtype() != DType::F32) out += std::string(", dtype=") + dtype_name(dtype());
  if (grad_fn()) out += ", grad_fn=" + grad_fn()->name();
  else if (requires_grad()) out += ", requires_grad=true";
  return out + ")";
}

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) { return out << tensor.str(); }

}  // namespace strata
