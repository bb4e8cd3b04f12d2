// Helpers shared by the test programs.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "strata/strata.hpp"

namespace strata::test {

// Expects `actual` to have `shape` and elements within `tol` (absolute + relative) of `expected`.
inline void expect_near(const Tensor& actual, const Shape& shape, const std::vector<double>& expected,
                        double tol = 1e-5) {
  ASSERT_TRUE(actual.defined());
  ASSERT_EQ(actual.shape(), shape);
  const std::vector<double> got = actual.to_vector<double>();
  ASSERT_EQ(got.size(), expected.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], expected[i], tol * (1 + std::abs(expected[i]))) << "element " << i;
}

// Elementwise comparison of two tensors of the same shape.
inline void expect_close(const Tensor& actual, const Tensor& expected, double tol = 1e-5) {
  ASSERT_TRUE(actual.defined() && expected.defined());
  ASSERT_EQ(actual.shape(), expected.shape());
  expect_near(actual, expected.shape(), expected.to_vector<double>(), tol);
}

// max |actual - expected| / max |expected| over all elements (a scale-aware error for sums of
// many products).
inline double relative_error(const Tensor& actual, const Tensor& expected) {
  EXPECT_EQ(actual.shape(), expected.shape());
  const std::vector<double> a = actual.to_vector<double>(), b = expected.to_vector<double>();
  double err = 0, scale = 1e-12;
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    err = std::max(err, std::abs(a[i] - b[i]));
    scale = std::max(scale, std::abs(b[i]));
  }
  return err / scale;
}

// The largest magnitude of t's values (0 for an empty tensor).
inline double max_abs(const Tensor& t) {
  double m = 0;
  for (double v : t.to_vector<double>()) m = std::max(m, std::abs(v));
  return m;
}

// Every activation kind, with parameters of each sign and one-sided clamps, for the tests that run
// each. The bounds and kinks lie off the grids of test::distinct's values that the tests use.
inline const Activation kActivations[] = {Activation::Relu,
                                          Activation::Sigmoid,
                                          Activation::Tanh,
                                          Activation::Relu6,
                                          Activation::leaky_relu(0.1),
                                          Activation::leaky_relu(-0.3),  // its derivative reads x
                                          Activation::hard_sigmoid(),
                                          Activation::hard_sigmoid(0.2, 0.45),
                                          Activation::HardSwish,
                                          Activation::clamp(-1.3125, 2.4375),  // bounds exact in f32
                                          Activation::clamp(std::nullopt, 0.9375),
                                          Activation::clamp(-0.6875, std::nullopt)};

// Uniform values in [low, high) from a fixed seed.
inline Tensor random(const Shape& shape, uint64_t seed, DType dtype = DType::F64, double low = -1.0,
                     double high = 1.0) {
  Generator gen(seed);
  return uniform(shape, low, high, gen, dtype);
}

// Distinct values (a shuffled ramp with spacing `gap`), so that max-pool and ReLU have no ties
// or kinks within a finite-difference step.
inline Tensor distinct(const Shape& shape, uint64_t seed, double gap = 0.01, DType dtype = DType::F64) {
  Generator gen(seed);
  std::vector<double> v(static_cast<std::size_t>(shape.numel()));
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = (static_cast<double>(i) - v.size() / 2.0 + 0.5) * gap;
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[gen.below(i)]);
  return from_data(std::span<const double>(v), shape).to(dtype);
}

// Runs gradcheck in double precision and expects every checked element to agree and no element
// to sit on a kink.
inline void expect_gradients(const std::function<Tensor(const std::vector<Tensor>&)>& fn,
                             const std::vector<Tensor>& inputs, const GradcheckOptions& options = {}) {
  const GradcheckResult r = gradcheck(fn, inputs, options);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_GT(r.checked, 0);
  EXPECT_EQ(r.skipped_kinks, 0);
}

// Expects fn to throw strata::Error whose message contains `fragment`.
template <class F>
void expect_error(F&& fn, const std::string& fragment) {
  try {
    fn();
    ADD_FAILURE() << "expected an error containing: " << fragment;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << fragment;
  }
}

// A dense f64 tensor of the values v (shape {} = 1-D of v.size()).
inline Tensor f64(const std::vector<double>& v, const Shape& shape = {}) {
  return from_data(std::span<const double>(v), shape);
}

// An f32 tensor written out in a test, e.g. image({0, 1, 2, 3}, {1, 1, 2, 2}).
inline Tensor image(std::initializer_list<float> v, const Shape& s) { return from_data(v, s); }

// Expects grad[i] to equal the central difference (step 1e-6) of objective() in t[i], within
// abs_tol + rel_tol * (1 + |grad[i]|). t and grad are dense f64; t is the buffer objective() reads.
inline void expect_derivative(const std::function<double()>& objective, const Tensor& t, const Tensor& grad,
                              double rel_tol = 1e-7, double abs_tol = 0.0) {
  double* p = t.mutable_data<double>();
  const double* g = grad.data<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    const double v = p[i];
    p[i] = v + 1e-6;
    const double up = objective();
    p[i] = v - 1e-6;
    const double down = objective();
    p[i] = v;
    EXPECT_NEAR(g[i], (up - down) / 2e-6, abs_tol + rel_tol * (1 + std::abs(g[i]))) << "element " << i;
  }
}

inline Tensor requires_grad(Tensor t) {
  t.set_requires_grad(true);
  return t;
}

}  // namespace strata::test
