// Reading and writing tensors in files other tools share:
//   safetensors  named tensors plus string metadata (https://github.com/huggingface/safetensors),
//                the format for weights exchanged with PyTorch (see tools/torch_weights.py);
//   .npy         one array, as numpy.save writes it: input batches and outputs for `strata predict`.
//
// Writes go to a temporary file in the destination's directory that is renamed onto the
// destination once complete, so a failed write leaves no file and never a half-written one.
// Loads check every header field against the file's size before allocating anything, so a
// corrupt or hostile file is a strata::Error naming the file and the problem, never a crash.
// Every error about a file starts with "<function>: '<path>': ".
#pragma once
#pragma GCC visibility push(default)

#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/tensor.hpp"

namespace strata::io {

// Named tensors in order; the same type as nn::NamedTensors (a module's state_dict).
using NamedTensors = std::vector<std::pair<std::string, Tensor>>;
using Metadata = std::map<std::string, std::string>;

// The contents of a safetensors file.
struct TensorFile {
  NamedTensors tensors;  // in the order of their data in the file
  Metadata metadata;     // the "__metadata__" entries
  // One line per tensor whose stored dtype Strata has no dtype for and widened exactly:
  // F16 and BF16 load as F32; I8, U8, I16, U16, I32 and U32 load as I64.
  std::vector<std::string> notes;

  const Tensor* find(std::string_view name) const;  // nullptr when absent
  const Tensor& at(std::string_view name) const;    // throws naming the missing tensor
};

// Writes `tensors` (names unique and not "__metadata__"; F32, F64 or I64; on the cpu) and
// `metadata` to `path`, byte for byte as the reference safetensors library's save_file writes the
// same dict: tensors ordered by dtype (I64, F64, F32) then by name, "__metadata__" first in the
// header, the header padded with spaces to a multiple of 8 bytes. Only the order of several
// metadata entries can differ: the reference's is unspecified (a hash map), Strata's is sorted.
void save_safetensors(const std::filesystem::path& path, const NamedTensors& tensors,
                      const Metadata& metadata = {});

// Reads every tensor of a safetensors file. F32, F64 and I64 load as they are; F16, BF16 and the
// narrower integers are widened (see TensorFile::notes); BOOL, U64 and the 8-bit floats are
// refused, naming the tensor.
TensorFile load_safetensors(const std::filesystem::path& path);

// The "__metadata__" of a safetensors file, reading and checking only its header.
Metadata read_safetensors_metadata(const std::filesystem::path& path);

// Writes `tensor` (F32, F64 or I64, on the cpu) as a C-order little-endian .npy file (format
// version 1.0), byte for byte as numpy.save writes the same array.
void save_npy(const std::filesystem::path& path, const Tensor& tensor);

// Reads a .npy file (format version 1.0, 2.0 or 3.0) of dtype '<f4', '<f8' or '<i8'; also
// '<f2' (loaded as F32) and '|i1', '|u1', '<i2', '<u2', '<i4', '<u4' (loaded as I64). Fortran
// order, big-endian data, other dtypes and more than kMaxDims dimensions are refused.
Tensor load_npy(const std::filesystem::path& path);

}  // namespace strata::io

#pragma GCC visibility pop
