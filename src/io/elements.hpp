// Element types as files store them, and reading such elements into Strata tensors. Files are
// little-endian; types Strata has no dtype for are widened on load (F16/BF16 -> F32, 8- to
// 32-bit integers -> I64), which is exact.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "io/file.hpp"
#include "strata/tensor.hpp"

namespace strata::io {

enum class StoredType { F16, BF16, F32, F64, I8, U8, I16, U16, I32, U32, I64 };

std::size_t stored_size(StoredType type);
DType loaded_dtype(StoredType type);  // the dtype read_tensor() returns
StoredType stored_type(DType dtype);  // the type a dtype is written as

// Product of `dims` times `element_size`; nullopt when that overflows 64 bits.
std::optional<uint64_t> byte_size(std::span<const uint64_t> dims, std::size_t element_size);

// A Shape from sizes read out of a file; `what` starts the message when they do not fit one
// (more than kMaxDims sizes, or a size beyond int64).
Shape make_shape(std::span<const uint64_t> dims, const std::string& what);

// Reads shape.numel() elements of `type` at byte `offset` of `file` into a new dense tensor of
// loaded_dtype(type).
Tensor read_tensor(const InputFile& file, uint64_t offset, StoredType type, const Shape& shape);

}  // namespace strata::io
