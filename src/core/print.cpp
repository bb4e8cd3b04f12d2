// Readable printing in PyTorch's style: nested brackets, aligned columns, "..." for long dims.
#include <cmath>
#include <cstdio>
#include <ostream>

#include "core/tensor_impl.hpp"
#include "strata/autograd.hpp"
#include "strata/ops.hpp"
#include "strata/tensor.hpp"

namespace strata {
namespace {

constexpr int64_t kSummarizeAbove = 1000;  // elements
constexpr int64_t kEdgeItems = 3;          // shown at each end of a summarised dim

struct Formatter {
  bool integral = true;     // every value is a whole number: print "3."
  bool scientific = false;  // magnitudes too large or small for fixed point
  int width = 1;
  bool is_int = false;

  std::string format(double v) const {
    char buf[64];
    if (is_int) {
      std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(v));
    } else if (!std::isfinite(v)) {
      std::snprintf(buf, sizeof buf, "%s", std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf"));
    } else if (scientific) {
      std::snprintf(buf, sizeof buf, "%.4e", v);
    } else if (integral) {
      std::snprintf(buf, sizeof buf, "%.0f.", v);
    } else {
      std::snprintf(buf, sizeof buf, "%.4f", v);
    }
    return buf;
  }
};

void print_dim(std::string& out, const std::vector<double>& values, const Shape& shape, int dim, int64_t offset,
               const Formatter& f, bool summarize, int indent) {
  const Shape strides = contiguous_strides(shape);
  const int64_t n = shape[dim];
  out += "[";
  bool first = true;
  for (int64_t i = 0; i < n; ++i) {
    if (summarize && n > 2 * kEdgeItems && i == kEdgeItems) {
      if (dim == shape.ndim() - 1) {
        out += ", ...";
      } else {
        out += ",\n";
        out.append(indent + 1, ' ');
        out += "...";
      }
      i = n - kEdgeItems - 1;
      continue;
    }
    if (!first && dim == shape.ndim() - 1) {
      out += ", ";
    } else if (!first) {
      out += ",";
      out.append(shape.ndim() - dim - 1, '\n');
      out.append(indent + 1, ' ');
    }
    first = false;
    if (dim == shape.ndim() - 1) {
      std::string s = f.format(values[offset + i * strides[dim]]);
      out.append(f.width > static_cast<int>(s.size()) ? f.width - s.size() : 0, ' ');
      out += s;
    } else {
      print_dim(out, values, shape, dim + 1, offset + i * strides[dim], f, summarize, indent + 1);
    }
  }
  out += "]";
}

}  // namespace

std::string Tensor::str() const {
  if (!defined()) return "tensor(undefined)";
  const std::vector<double> values = to_vector<double>();
  Formatter f;
  f.is_int = dtype() == DType::I64;
  double max_abs = 0.0, min_abs = INFINITY;
  for (double v : values) {
    if (!std::isfinite(v)) continue;
    if (v != std::floor(v)) f.integral = false;
    max_abs = std::max(max_abs, std::abs(v));
    if (v != 0.0) min_abs = std::min(min_abs, std::abs(v));
  }
  f.scientific = !f.is_int && (max_abs >= 1e8 || (!f.integral && min_abs < 1e-4));
  for (double v : values) f.width = std::max<int>(f.width, static_cast<int>(f.format(v).size()));

  std::string out = "tensor(";
  if (ndim() == 0) {
    out += f.format(values[0]);
  } else if (numel() == 0) {
    out += "[]";
  } else {
    print_dim(out, values, shape(), 0, 0, f, numel() > kSummarizeAbove, 7);
  }
  if (ndim() > 1 || numel() > kSummarizeAbove) out += ", shape=" + shape().str();
  if (dtype() != DType::F32) out += std::string(", dtype=") + dtype_name(dtype());
  if (grad_fn()) out += ", grad_fn=" + grad_fn()->name();
  else if (requires_grad()) out += ", requires_grad=true";
  return out + ")";
}

std::ostream& operator<<(std::ostream& out, const Tensor& tensor) { return out << tensor.str(); }

}  // namespace strata
