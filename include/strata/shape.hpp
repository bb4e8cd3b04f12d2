// Shape: the sizes (or strides) of a tensor, at most kMaxDims of them, stored inline.
#pragma once
#pragma GCC visibility push(default)

#include <array>
#include <cstdint>
#include <initializer_list>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>

namespace strata {

inline constexpr int kMaxDims = 6;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);

  int ndim() const { return ndim_; }
  bool empty() const { return ndim_ == 0; }
  int64_t operator[](int i) const { return dims_[i]; }
  int64_t& operator[](int i) { return dims_[i]; }
  // Size of dimension i, where negative i counts from the end (-1 is the last).
  int64_t at(int i) const;
  int64_t numel() const;  // product of the sizes; 1 for a scalar (0 dims)

  void push_back(int64_t d);
  const int64_t* begin() const { return dims_.data(); }
  const int64_t* end() const { return dims_.data() + ndim_; }
  const int64_t* data() const { return dims_.data(); }

  std::string str() const;  // "[2,3,8,8]"
  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<int64_t, kMaxDims> dims_{};
  int ndim_ = 0;
};

std::ostream& operator<<(std::ostream& out, const Shape& shape);

// A shape written as comma-separated sizes ("1,28,28"): each a positive integer of at most
// max_size, at most max_dims of them, at least one. nullopt when `text` is not such a list (the
// caller's error message says what its flag or field expects).
std::optional<Shape> parse_shape(const std::string& text, int64_t max_size, int max_dims = kMaxDims);

// Row-major (C order) strides of a dense tensor of this shape, in elements.
Shape contiguous_strides(const Shape& shape);

// Maps a possibly negative dimension index into [0, ndim); throws naming `op` if out of range.
int normalize_dim(int dim, int ndim, const char* op);

// Shape of the result of broadcasting a and b (NumPy rules); throws naming `op` if incompatible.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op);

}  // namespace strata

#pragma GCC visibility pop
