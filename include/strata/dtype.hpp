// Element types and devices a tensor can have.
#pragma once
#pragma GCC visibility push(default)

#include <cstddef>
#include <cstdint>
#include <string>

namespace strata {

// F32 is the working type; F64 exists for gradient checks in double precision; I64 holds class
// labels and indices. Kept as a field so BF16 can be added later.
enum class DType : uint8_t { F32, F64, I64 };

std::size_t dtype_size(DType dtype);
const char* dtype_name(DType dtype);  // "f32", "f64", "i64"
inline bool is_floating(DType dtype) { return dtype == DType::F32 || dtype == DType::F64; }

template <class T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::F32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::F64;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::I64;
};
template <class T>
inline constexpr DType dtype_of = DTypeOf<T>::value;

enum class DeviceType : uint8_t { CPU, CUDA };

struct Device {
  DeviceType type = DeviceType::CPU;
  int index = 0;

  static Device cpu() { return {}; }
  static Device cuda(int index = 0) { return {DeviceType::CUDA, index}; }
  bool is_cpu() const { return type == DeviceType::CPU; }
  bool is_cuda() const { return type == DeviceType::CUDA; }
  std::string str() const;  // "cpu", "cuda:0"
  friend bool operator==(const Device&, const Device&) = default;
};

}  // namespace strata

#pragma GCC visibility pop
