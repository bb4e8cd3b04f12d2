// Iteration over strided tensors: visits every element of `shape` as a sequence of rows (the
// innermost dimension after merging dimensions that are contiguous in every operand), giving the
// element offset of the row start in each operand and each operand's stride along the row.
#pragma once

#include <array>
#include <cstdint>

#include "strata/shape.hpp"

namespace strata {

template <std::size_t K>
struct StridedLoop {
  Shape shape;                     // merged sizes
  std::array<Shape, K> strides;    // merged strides per operand
  int64_t rows = 1;                // number of rows = product of all but the last merged size
  int64_t row_length = 1;          // last merged size

  StridedLoop(const Shape& full_shape, const std::array<Shape, K>& full_strides) {
    // Merge dim i into i+1 when, for every operand, stepping dim i equals a whole run of dim i+1.
    for (int i = 0; i < full_shape.ndim(); ++i) {
      if (full_shape[i] == 1) continue;  // size-1 dims never move the offset
      bool merge = shape.ndim() > 0;
      for (std::size_t k = 0; k < K && merge; ++k)
        merge = strides[k][shape.ndim() - 1] == full_strides[k][i] * full_shape[i];
      if (merge) {
        shape[shape.ndim() - 1] *= full_shape[i];
        for (std::size_t k = 0; k < K; ++k) strides[k][shape.ndim() - 1] = full_strides[k][i];
      } else {
        shape.push_back(full_shape[i]);
        for (std::size_t k = 0; k < K; ++k) strides[k].push_back(full_strides[k][i]);
      }
    }
    if (shape.ndim() == 0) {  // a scalar or all-ones shape: one row of one element
      shape.push_back(full_shape.numel());
      for (std::size_t k = 0; k < K; ++k) strides[k].push_back(0);
    }
    row_length = shape[shape.ndim() - 1];
    rows = row_length == 0 ? 0 : shape.numel() / row_length;
  }

  // Offsets (in elements, relative to each operand's first element) of the start of row r.
  std::array<int64_t, K> row_offsets(int64_t r) const {
    std::array<int64_t, K> off{};
    for (int d = shape.ndim() - 2; d >= 0; --d) {
      const int64_t i = r % shape[d];
      r /= shape[d];
      for (std::size_t k = 0; k < K; ++k) off[k] += i * strides[k][d];
    }
    return off;
  }

  std::array<int64_t, K> row_strides() const {
    std::array<int64_t, K> s{};
    for (std::size_t k = 0; k < K; ++k) s[k] = strides[k][shape.ndim() - 1];
    return s;
  }

  // Calls body(offsets, length, row_strides) for every row; rows are split into chunks of at most
  // `chunk` elements and run in parallel when there is enough work.
  template <class Body>
  void run(Body&& body, int64_t chunk = 32768) const {
    if (rows == 0) return;
    const std::array<int64_t, K> rs = row_strides();
    const int64_t chunks_per_row = (row_length + chunk - 1) / chunk;
    const int64_t items = rows * chunks_per_row;
    const bool parallel = rows * row_length >= 65536;
#pragma omp parallel for schedule(static) if (parallel)
    for (int64_t item = 0; item < items; ++item) {
      const int64_t r = item / chunks_per_row, c = item % chunks_per_row;
      std::array<int64_t, K> off = row_offsets(r);
      const int64_t begin = c * chunk;
      const int64_t len = (begin + chunk < row_length ? chunk : row_length - begin);
      for (std::size_t k = 0; k < K; ++k) off[k] += begin * rs[k];
      body(off, len, rs);
    }
  }
};

}  // namespace strata
