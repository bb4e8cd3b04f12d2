// The header of a .npy file (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html):
// the magic "\x93NUMPY", a version byte pair, the header length (2 bytes in version 1.0, 4 in 2.0
// and 3.0, little-endian) and a Python dict literal such as
//   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a final '\n', followed by the raw array data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "strata/shape.hpp"

namespace strata::io {

struct NpyHeader {
  std::string descr;
  bool fortran_order = false;
  std::vector<uint64_t> shape;
};

// numpy refuses longer headers by default; so does Strata (a real one is ~128 bytes).
inline constexpr uint64_t kMaxNpyHeader = 10000;

// Parses the dict literal (the text after the length field). Accepts exactly the three keys, in
// any order, with a string descr, True/False and a tuple of non-negative integers. `prefix`
// starts error messages.
NpyHeader parse_npy_header(std::string_view text, const std::string& prefix);

// Magic, version 1.0, length and dict for a C-order array, padded as numpy.save pads it: the
// dict gets room for the first size to grow to 21 digits, and the whole header ends on a
// multiple of 64 bytes.
std::string encode_npy_header(std::string_view descr, const Shape& shape);

}  // namespace strata::io
