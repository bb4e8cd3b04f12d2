// Reference elementwise kernels over strided operands (see core/strided.hpp).
#include "ops/elementwise.hpp"

#include <cmath>

#include "core/dispatch.hpp"
#include "core/dtype_dispatch.hpp"
#include "core/strided.hpp"

namespace strata {
namespace {

template <class T>
T binary_value(BinaryOp op, T a, T b) {
  switch (op) {
    case BinaryOp::Add:
      return a + b;
    case BinaryOp::Sub:
      return a - b;
    case BinaryOp::Mul:
      return a * b;
    case BinaryOp::Div:
      return a / b;
  }
  return T(0);
}

// body(f) with f the scalar function of op (x -> f(x), s bound), chosen once per row so that the
// row's loop is one function the compiler can vectorize.
template <class T, class Body>
void with_unary(UnaryOp op, T s, Body body) {
  switch (op) {
    case UnaryOp::Neg:
      return body([](T x) { return -x; });
    case UnaryOp::Exp:
      return body([](T x) { return std::exp(x); });
    case UnaryOp::Log:
      return body([](T x) { return std::log(x); });
    case UnaryOp::Sqrt:
      return body([](T x) { return std::sqrt(x); });
    case UnaryOp::Abs:
      return body([](T x) { return std::abs(x); });
    case UnaryOp::Sign:
      return body([](T x) { return T((x > T(0)) - (x < T(0))); });
    case UnaryOp::Pow:
      if (s == T(2)) return body([](T x) { return x * x; });
      return body([s](T x) { return std::pow(x, s); });
    case UnaryOp::AddScalar:
      return body([s](T x) { return x + s; });
    case UnaryOp::MulScalar:
      return body([s](T x) { return x * s; });
    case UnaryOp::RSubScalar:
      return body([s](T x) { return s - x; });
    case UnaryOp::RDivScalar:
      return body([s](T x) { return s / x; });
  }
}

void binary(BinaryOp op, const Tensor& out, const Tensor& a, const Tensor& b) {
  visit_floating(out.dtype(), "elementwise", [&]<class T>() {
    T* po = out.mutable_data<T>();
    const T* pa = a.data<T>();
    const T* pb = b.data<T>();
    StridedLoop<3> loop(out.shape(), {out.strides(), a.strides(), b.strides()});
    loop.run([&](std::array<int64_t, 3> off, int64_t n, std::array<int64_t, 3> s) {
      T* o = po + off[0];
      const T* x = pa + off[1];
      const T* y = pb + off[2];
      if (s[0] == 1 && s[1] == 1 && s[2] == 1) {
        switch (op) {  // unit-stride rows: let the compiler vectorise each case
          case BinaryOp::Add:
            for (int64_t i = 0; i < n; ++i) o[i] = x[i] + y[i];
            return;
          case BinaryOp::Sub:
            for (int64_t i = 0; i < n; ++i) o[i] = x[i] - y[i];
            return;
          case BinaryOp::Mul:
            for (int64_t i = 0; i < n; ++i) o[i] = x[i] * y[i];
            return;
          case BinaryOp::Div:
            for (int64_t i = 0; i < n; ++i) o[i] = x[i] / y[i];
            return;
        }
      }
      for (int64_t i = 0; i < n; ++i) o[i * s[0]] = binary_value(op, x[i * s[1]], y[i * s[2]]);
    });
  });
}

void unary(UnaryOp op, const Tensor& out, const Tensor& x, double s) {
  visit_floating(out.dtype(), "elementwise", [&]<class T>() {
    T* po = out.mutable_data<T>();
    const T* px = x.data<T>();
    const T scalar = static_cast<T>(s);
    StridedLoop<2> loop(out.shape(), {out.strides(), x.strides()});
    loop.run([&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> st) {
      T* o = po + off[0];
      const T* in = px + off[1];
      with_unary(op, scalar, [&](auto f) {
        if (st[0] == 1 && st[1] == 1) {
          for (int64_t i = 0; i < n; ++i) o[i] = f(in[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) o[i * st[0]] = f(in[i * st[1]]);
        }
      });
    });
  });
}

void axpy(const Tensor& dst, const Tensor& src, double alpha) {
  visit_floating(dst.dtype(), "add_", [&]<class T>() {
    T* pd = dst.mutable_data<T>();
    const T* ps = src.data<T>();
    const T a = static_cast<T>(alpha);
    StridedLoop<2> loop(dst.shape(), {dst.strides(), src.strides()});
    loop.run([&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> st) {
      T* d = pd + off[0];
      const T* x = ps + off[1];
      if (st[0] == 1 && st[1] == 1) {
        for (int64_t i = 0; i < n; ++i) d[i] += a * x[i];
      } else {
        for (int64_t i = 0; i < n; ++i) d[i * st[0]] += a * x[i * st[1]];
      }
    });
  });
}

void copy(const Tensor& dst, const Tensor& src) {
  visit_any(dst.dtype(), [&]<class D>() {
    visit_any(src.dtype(), [&]<class S>() {
      D* pd = dst.mutable_data<D>();
      const S* ps = src.data<S>();
      StridedLoop<2> loop(dst.shape(), {dst.strides(), src.strides()});
      loop.run([&](std::array<int64_t, 2> off, int64_t n, std::array<int64_t, 2> st) {
        D* d = pd + off[0];
        const S* x = ps + off[1];
        if (st[0] == 1 && st[1] == 1) {
          for (int64_t i = 0; i < n; ++i) d[i] = static_cast<D>(x[i]);
        } else {
          for (int64_t i = 0; i < n; ++i) d[i * st[0]] = static_cast<D>(x[i * st[1]]);
        }
      });
    });
  });
}

void fill(const Tensor& dst, double value) {
  visit_any(dst.dtype(), [&]<class T>() {
    T* pd = dst.mutable_data<T>();
    const T v = static_cast<T>(value);
    StridedLoop<1> loop(dst.shape(), {dst.strides()});
    loop.run([&](std::array<int64_t, 1> off, int64_t n, std::array<int64_t, 1> st) {
      T* d = pd + off[0];
      for (int64_t i = 0; i < n; ++i) d[i * st[0]] = v;
    });
  });
}

const ElementwiseKernels kRefElementwise{binary, unary, axpy, copy, fill};
STRATA_REGISTER_KERNELS(ElementwiseKernels, Backend::Ref, kRefElementwise);

}  // namespace
}  // namespace strata
