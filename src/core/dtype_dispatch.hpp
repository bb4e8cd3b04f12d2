// Calls a generic lambda with the C++ type of a floating dtype:
//   visit_floating(x.dtype(), "conv2d", [&]<class T>() { kernel<T>(...); });
#pragma once

#include "strata/dtype.hpp"
#include "strata/error.hpp"

namespace strata {

template <class F>
decltype(auto) visit_floating(DType dtype, const char* op, F&& f) {
  switch (dtype) {
    case DType::F32:
      return f.template operator()<float>();
    case DType::F64:
      return f.template operator()<double>();
    default:
      fail(op, ": expected a floating-point tensor (f32 or f64), got ", dtype_name(dtype));
  }
}

// As visit_floating, but also accepts I64.
template <class F>
decltype(auto) visit_any(DType dtype, F&& f) {
  switch (dtype) {
    case DType::F32:
      return f.template operator()<float>();
    case DType::F64:
      return f.template operator()<double>();
    case DType::I64:
      return f.template operator()<int64_t>();
  }
  fail("internal error: unknown dtype");
}

}  // namespace strata
