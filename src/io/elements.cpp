#include "io/elements.hpp"

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "strata/error.hpp"

namespace strata::io {

static_assert(std::endian::native == std::endian::little,
              "strata io reads and writes little-endian files by copying bytes; a big-endian host "
              "would need byte swapping here");

namespace {

float half_to_float(uint16_t h) {
  const uint32_t sign = (h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24
    const float magnitude = std::ldexp(static_cast<float>(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

float bfloat16_to_float(uint16_t b) { return std::bit_cast<float>(static_cast<uint32_t>(b) << 16); }

// Converts n little-endian elements of type S at `src` with `convert` into `dst`.
template <class S, class D, class F>
void widen(const std::byte* src, D* dst, std::size_t n, F convert) {
  for (std::size_t i = 0; i < n; ++i) {
    S value;
    std::memcpy(&value, src + i * sizeof(S), sizeof(S));
    dst[i] = convert(value);
  }
}

template <class S>
void widen_integer(const std::byte* src, int64_t* dst, std::size_t n) {
  widen<S>(src, dst, n, [](S v) { return static_cast<int64_t>(v); });
}

}  // namespace

std::size_t stored_size(StoredType type) {
  switch (type) {
    case StoredType::I8:
    case StoredType::U8: return 1;
    case StoredType::F16:
    case StoredType::BF16:
    case StoredType::I16:
    case StoredType::U16: return 2;
    case StoredType::F32:
    case StoredType::I32:
    case StoredType::U32: return 4;
    case StoredType::F64:
    case StoredType::I64: return 8;
  }
  fail("stored_size: unknown stored type ", static_cast<int>(type));
}

DType loaded_dtype(StoredType type) {
  switch (type) {
    case StoredType::F16:
    case StoredType::BF16:
    case StoredType::F32: return DType::F32;
    case StoredType::F64: return DType::F64;
    default: return DType::I64;
  }
}

StoredType stored_type(DType dtype) {
  switch (dtype) {
    case DType::F32: return StoredType::F32;
    case DType::F64: return StoredType::F64;
    case DType::I64: return StoredType::I64;
  }
  fail("stored_type: unknown dtype ", static_cast<int>(dtype));
}

std::optional<uint64_t> byte_size(std::span<const uint64_t> dims, std::size_t element_size) {
  uint64_t total = element_size;
  for (uint64_t d : dims) {
    if (d == 0) return 0;
  }
  for (uint64_t d : dims) {
    if (total > std::numeric_limits<uint64_t>::max() / d) return std::nullopt;
    total *= d;
  }
  return total;
}

Shape make_shape(std::span<const uint64_t> dims, const std::string& what) {
  STRATA_CHECK(dims.size() <= static_cast<std::size_t>(kMaxDims), what, "has ", dims.size(),
               " dimensions; Strata tensors have at most ", kMaxDims);
  Shape shape;
  for (uint64_t d : dims) {
    STRATA_CHECK(d <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), what, "has size ", d,
                 ", which is too large for a tensor");
    shape.push_back(static_cast<int64_t>(d));
  }
  return shape;
}

Tensor read_tensor(const InputFile& file, uint64_t offset, StoredType type, const Shape& shape) {
  Tensor t = empty(shape, loaded_dtype(type));
  const auto n = static_cast<std::size_t>(shape.numel());
  if (type == stored_type(t.dtype())) {
    file.read(offset, t.mutable_raw_data(), n * stored_size(type));
    return t;
  }
  std::vector<std::byte> bytes(n * stored_size(type));
  file.read(offset, bytes.data(), bytes.size());
  const std::byte* src = bytes.data();
  switch (type) {
    case StoredType::F16: widen<uint16_t>(src, t.mutable_data<float>(), n, half_to_float); break;
    case StoredType::BF16: widen<uint16_t>(src, t.mutable_data<float>(), n, bfloat16_to_float); break;
    case StoredType::I8: widen_integer<int8_t>(src, t.mutable_data<int64_t>(), n); break;
    case StoredType::U8: widen_integer<uint8_t>(src, t.mutable_data<int64_t>(), n); break;
    case StoredType::I16: widen_integer<int16_t>(src, t.mutable_data<int64_t>(), n); break;
    case StoredType::U16: widen_integer<uint16_t>(src, t.mutable_data<int64_t>(), n); break;
    case StoredType::I32: widen_integer<int32_t>(src, t.mutable_data<int64_t>(), n); break;
    case StoredType::U32: widen_integer<uint32_t>(src, t.mutable_data<int64_t>(), n); break;
    default: fail("read_tensor: stored type ", static_cast<int>(type), " has no conversion");
  }
  return t;
}

}  // namespace strata::io
