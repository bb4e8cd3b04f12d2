// Activations and dropout: values (PyTorch's results computed by hand), stability for large |x|,
// gradient checks over a table of kinds and shapes, the reference kernels' derivatives, dropout's
// masks and scaling, and errors.
#include <cmath>
#include <functional>
#include <limits>

#include "common/test_util.hpp"
#include "ops/epilogue.hpp"
#include "kernels/ref/activation.hpp"
#include "ops/activation.hpp"

using namespace strata;
using namespace strata::test;

TEST(ActivationValues, ReluSigmoidTanh) {
  const Tensor x = from_data({-2.0f, -0.5f, 0.0f, 0.5f, 1.0f});
  expect_near(relu(x), {5}, {0, 0, 0, 0.5, 1});
  // sigmoid(-2) = 1/(1+e^2), sigmoid(0.5) = 1/(1+e^-0.5), sigmoid(1) = 1/(1+e^-1).
  expect_near(sigmoid(x), {5}, {0.11920292, 0.37754067, 0.5, 0.62245933, 0.73105858});
  expect_near(tanh(x), {5}, {-0.96402758, -0.46211716, 0, 0.46211716, 0.76159416});
}

// relu6 clamps to [0, 6], NaN stays NaN; its gradient is 1 strictly inside, 0 at and beyond the
// bounds (PyTorch's hardtanh backward).
TEST(ActivationValues, Relu6) {
  Tensor x = requires_grad(from_data(std::vector<double>{-1.0, 0.0, 0.5, 5.5, 6.0, 7.0}));
  const Tensor y = relu6(x);
  expect_near(y, {6}, {0, 0, 0.5, 5.5, 6, 6});
  EXPECT_EQ(y.grad_fn()->name(), std::string("relu6"));
  y.sum().backward();
  expect_near(x.grad(), {6}, {0, 0, 1, 1, 0, 0});
  EXPECT_TRUE(std::isnan(relu6(from_data(std::vector<double>{std::nan("")})).item()));
}

// PyTorch's F.leaky_relu(x, 0.1), F.hardsigmoid, F.hardswish and torch.clamp, by hand; gradients
// from x (hardswish: 0 below -3, x/3 + 1/2 up to 3, 1 above) or from y, none at clamp's bounds.
TEST(ActivationValues, LeakyRelu) {
  Tensor x = requires_grad(from_data(std::vector<double>{-2.0, -0.5, 0.0, 1.5}));
  const Tensor y = leaky_relu(x, 0.1);
  expect_near(y, {4}, {-0.2, -0.05, 0, 1.5});
  EXPECT_EQ(y.grad_fn()->name(), std::string("leaky_relu"));
  y.sum().backward();
  expect_near(x.grad(), {4}, {0.1, 0.1, 0.1, 1});
  x.zero_grad();
  leaky_relu(x, -0.5).sum().backward();  // y = 1 at x = -2 and at x = 1: the slope comes from x
  expect_near(x.grad(), {4}, {-0.5, -0.5, -0.5, 1});
  expect_near(leaky_relu(x), {4}, {-0.02, -0.005, 0, 1.5});  // PyTorch's default slope 0.01
}

TEST(ActivationValues, HardSigmoid) {
  Tensor x = requires_grad(from_data(std::vector<double>{-4.0, -1.5, 0.0, 2.4, 3.5}));
  const Tensor y = hardsigmoid(x);  // x/6 + 1/2 in [0, 1]
  expect_near(y, {5}, {0, 0.25, 0.5, 0.9, 1});
  y.sum().backward();
  expect_near(x.grad(), {5}, {0, 1.0 / 6, 1.0 / 6, 1.0 / 6, 0});
  x.zero_grad();
  const Tensor onnx_default = hardsigmoid(x, 0.2, 0.5);  // ONNX's defaults: 0.2 x + 0.5
  expect_near(onnx_default, {5}, {0, 0.2, 0.5, 0.98, 1});
  onnx_default.sum().backward();
  expect_near(x.grad(), {5}, {0, 0.2, 0.2, 0.2, 0});
}

TEST(ActivationValues, HardSwish) {
  Tensor x = requires_grad(from_data(std::vector<double>{-4.0, -3.0, -1.5, 0.0, 1.0, 3.0, 5.0}));
  const Tensor y = hardswish(x);  // x (x + 3) / 6 between -3 and 3
  expect_near(y, {7}, {0, 0, -0.375, 0, 2.0 / 3, 3, 5});
  EXPECT_EQ(y.grad_fn()->name(), std::string("hardswish"));
  y.sum().backward();
  expect_near(x.grad(), {7}, {0, -0.5, 0, 0.5, 5.0 / 6, 1.5, 1});
}

TEST(ActivationValues, ClampWithEitherBound) {
  Tensor x = requires_grad(from_data(std::vector<double>{-3.0, -1.0, 0.5, 2.0, 4.0}));
  const Tensor y = clamp(x, -1.0, 2.0);
  expect_near(y, {5}, {-1, -1, 0.5, 2, 2});
  EXPECT_EQ(y.grad_fn()->name(), std::string("clamp"));
  y.sum().backward();
  expect_near(x.grad(), {5}, {0, 0, 1, 0, 0});
  expect_near(clamp(x, std::nullopt, 1.0), {5}, {-3, -1, 0.5, 1, 1});
  expect_near(clamp(x, -2.0, std::nullopt), {5}, {-2, -1, 0.5, 2, 4});
  expect_near(clamp(x, std::nullopt, std::nullopt), {5}, {-3, -1, 0.5, 2, 4});
  // The bounds of relu6 and relu are those ops.
  EXPECT_EQ(Activation::clamp(0.0, 6.0), Activation(Activation::Relu6));
  EXPECT_EQ(Activation::clamp(0.0, std::nullopt), Activation(Activation::Relu));
  EXPECT_EQ(clamp(x, 0.0, 6.0).grad_fn()->name(), std::string("relu6"));
  // In f32 the output holds a bound rounded to f32 (-1.27f > -1.27): still no gradient there.
  for (Backend backend : {Backend::Ref, Backend::Dnnl}) {
    if (!backend_available(backend)) continue;
    BackendGuard guard(backend);
    SCOPED_TRACE(backend_name(backend));
    Tensor xf = requires_grad(from_data({-3.0f, 0.5f, 4.0f}));
    clamp(xf, -1.27, 2.43).sum().backward();
    expect_near(xf.grad(), {3}, {0, 1, 0});
  }
}

// No overflow into inf/inf or NaN far from 0, in either precision.
TEST(ActivationValues, StableForLargeMagnitudes) {
  for (DType dtype : {DType::F32, DType::F64}) {
    const Tensor x = from_data({-1000.0f, -100.0f, 100.0f, 1000.0f}).to(dtype);
    expect_near(sigmoid(x), {4}, {0, 3.72007598e-44, 1, 1}, 1e-6);
    expect_near(tanh(x), {4}, {-1, -1, 1, 1}, 1e-6);
    expect_near(relu(x), {4}, {0, 0, 100, 1000});
  }
}

TEST(ActivationValues, NaNPropagatesAndStridedInput) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  for (Activation kind : test::kActivations)
    EXPECT_TRUE(std::isnan(activation(from_data(std::vector<double>{nan}), kind).item())) << activation_name(kind);
  const Tensor x = random({3, 4}, 5).transpose(0, 1);
  ASSERT_FALSE(x.is_contiguous());
  expect_close(relu(x), relu(x.contiguous()), 0);
  expect_close(sigmoid(x), sigmoid(x.contiguous()), 0);
}

// Derivatives from the output: relu gy [y > 0], sigmoid gy y (1 - y), tanh gy (1 - y^2).
TEST(ActivationValues, GradientsAtKnownPoints) {
  Tensor x = requires_grad(from_data(std::vector<double>{-1.0, 0.5, 2.0}));
  relu(x).sum().backward();
  expect_near(x.grad(), {3}, {0, 1, 1});
  x.zero_grad();
  sigmoid(x).sum().backward();
  expect_near(x.grad(), {3}, {0.19661193, 0.23500371, 0.10499359});
  x.zero_grad();
  tanh(x).sum().backward();
  expect_near(x.grad(), {3}, {0.41997434, 0.78644773, 0.07065082});
}

// ---- Gradient checks over a table (double precision through autograd) ----

struct ActivationCase {
  const char* name;
  Activation kind;
  Shape x;
  double gap = 0.05;  // between the input's distinct values
};

void PrintTo(const ActivationCase& c, std::ostream* os) { *os << c.name; }

class ActivationGradients : public ::testing::TestWithParam<ActivationCase> {};

TEST_P(ActivationGradients, MatchFiniteDifferences) {
  const ActivationCase& c = GetParam();
  // Distinct values c.gap apart (an even count has no exact 0): none within a finite-difference
  // step of relu's kink at 0 or relu6's at 6.
  expect_gradients([&](const std::vector<Tensor>& in) { return activation(in[0], c.kind); },
                   {requires_grad(distinct(c.x, 7, c.gap))});
}

INSTANTIATE_TEST_SUITE_P(Table, ActivationGradients,
                         ::testing::Values(ActivationCase{"relu_1d", Activation::Relu, {10}},
                                           ActivationCase{"relu_4d", Activation::Relu, {2, 3, 4, 5}},
                                           ActivationCase{"sigmoid_1d", Activation::Sigmoid, {7}},
                                           ActivationCase{"sigmoid_4d", Activation::Sigmoid, {2, 3, 4, 5}},
                                           ActivationCase{"tanh_1d", Activation::Tanh, {7}},
                                           ActivationCase{"tanh_5d", Activation::Tanh, {1, 2, 3, 2, 4}},
                                           // -6.965 to 6.965, 0.07 apart: both bounds crossed.
                                           ActivationCase{"relu6_1d", Activation::Relu6, {200}, 0.07},
                                           ActivationCase{"leaky_relu_4d", Activation::leaky_relu(0.2), {2, 3, 4, 5}},
                                           ActivationCase{"leaky_relu_negative_slope", Activation::leaky_relu(-0.4), {10}},
                                           // The kinks at -3 and 3 between grid values.
                                           ActivationCase{"hardsigmoid_1d", Activation::hard_sigmoid(), {200}, 0.07},
                                           ActivationCase{"hardsigmoid_onnx", Activation::hard_sigmoid(0.2, 0.5), {200}, 0.07},
                                           ActivationCase{"hardswish_1d", Activation::HardSwish, {200}, 0.07},
                                           ActivationCase{"hardswish_4d", Activation::HardSwish, {2, 3, 4, 5}, 0.07},
                                           ActivationCase{"clamp_1d", Activation::clamp(-1.0, 2.0), {100}, 0.07},
                                           ActivationCase{"clamp_max_only", Activation::clamp(std::nullopt, 0.5), {30}, 0.07},
                                           ActivationCase{"clamp_min_only", Activation::clamp(-0.5, std::nullopt), {30}, 0.07}),
                         [](const ::testing::TestParamInfo<ActivationCase>& info) { return std::string(info.param.name); });

// The reference kernels themselves, in double: backward(gy, forward(x)) against central
// differences of <forward(x), gy>, which for a pointwise f is gy f'(x) element by element.
// The derivative reads y, or x where !kind.derivative_from_y().
TEST(ActivationKernelRef, BackwardIsTheForwardsDerivative) {
  const Tensor x = distinct({40}, 3, 0.35), gy = random({40}, 4);  // -6.8 to 6.8: relu6's bounds too
  const int64_t n = x.numel();
  for (Activation kind : test::kActivations) {
    SCOPED_TRACE(activation_name(kind));
    Tensor y = empty({n}, DType::F64), gx = empty({n}, DType::F64), up = empty({n}, DType::F64),
           down = empty({n}, DType::F64);
    ref::activation_forward<double>(kind, n, x.mutable_data<double>(), y.mutable_data<double>());
    const Tensor& saved = kind.derivative_from_y() ? y : x;
    ref::activation_backward<double>(kind, n, gy.data<double>(), saved.data<double>(), gx.mutable_data<double>());
    const Tensor x_up = x + 1e-6, x_down = x - 1e-6;
    ref::activation_forward<double>(kind, n, x_up.mutable_data<double>(), up.mutable_data<double>());
    ref::activation_forward<double>(kind, n, x_down.mutable_data<double>(), down.mutable_data<double>());
    expect_close(gx, (up - down) * gy / 2e-6, 1e-7);
  }
}

// add_activation(a, b, kind) is kind(a + b) in value and gradient (both operands get it).
TEST(AddActivation, EqualsTheActivationOfTheSum) {
  for (Activation kind : test::kActivations) {
    SCOPED_TRACE(activation_name(kind));
    const Tensor a0 = random({2, 3, 4}, 5), b0 = random({2, 3, 4}, 6), gy = random({2, 3, 4}, 7);
    Tensor a = requires_grad(a0.clone()), b = requires_grad(b0.clone());
    const Tensor fused = add_activation(a, b, kind);
    // Where the derivative reads x, the sum is kept and the activation is an op of its own.
    EXPECT_EQ(fused.grad_fn()->name(), kind.derivative_from_y() ? std::string("add_") + activation_name(kind)
                                                                : std::string(activation_name(kind)));
    (fused * gy).sum().backward();
    Tensor a2 = requires_grad(a0.clone()), b2 = requires_grad(b0.clone());
    const Tensor unfused = activation(a2 + b2, kind);
    (unfused * gy).sum().backward();
    expect_close(fused, unfused, 1e-12);
    expect_close(a.grad(), a2.grad(), 1e-12);
    expect_close(b.grad(), b2.grad(), 1e-12);
  }
  // Only one operand tracked, in float (the fast backend's kernel when it is built).
  Tensor a = requires_grad(random({2, 3, 4}, 5, DType::F32));
  const Tensor b = random({2, 3, 4}, 6, DType::F32);
  add_activation(a, b, Activation::Sigmoid).sum().backward();
  const Tensor s = sigmoid((a + b).detach());
  expect_close(a.grad(), s * (1.0 - s), 1e-6);
  const Tensor row = random({4}, 8), m = random({3, 4}, 9);
  expect_error([&] { add_activation(m, row, Activation::Relu); },
               "add_relu: operands have shapes [3,4] and [4]; they must be equal");
  expect_error([&] { add_activation(m, random({3, 4}, 1, DType::F32), Activation::Relu); },
               "add_relu: operands must be floating-point of one dtype on one device");
}

// ---- Dropout ----

TEST(Dropout, IdentityWhenEvaluatingOrPZero) {
  const Tensor x = random({3, 4}, 1);
  EXPECT_TRUE(dropout(x, 0.5, /*training=*/false).is_same(x));
  EXPECT_TRUE(dropout(x, 0.0, /*training=*/true).is_same(x));
}

TEST(Dropout, POneGivesZeros) {
  Tensor x = requires_grad(random({3, 4}, 1));
  Tensor y = dropout(x, 1.0, true);
  expect_near(y, {3, 4}, std::vector<double>(12, 0.0));
  y.sum().backward();
  expect_near(x.grad(), {3, 4}, std::vector<double>(12, 0.0));
}

// Each element is 0 or x/(1-p); about a fraction p are zeros; the mean is kept (inverted dropout).
TEST(Dropout, InvertedScalingAndDropRate) {
  Generator gen(11);
  const Tensor x = ones({200000}, DType::F64);
  const std::vector<double> y = dropout(x, 0.3, true, &gen).to_vector<double>();
  int64_t zeros_seen = 0;
  double sum = 0.0;
  for (double v : y) {
    if (v == 0.0) {
      ++zeros_seen;
    } else {
      EXPECT_NEAR(v, 1.0 / 0.7, 1e-12);
    }
    sum += v;
  }
  EXPECT_NEAR(static_cast<double>(zeros_seen) / y.size(), 0.3, 0.005);
  EXPECT_NEAR(sum / y.size(), 1.0, 0.01);
}

TEST(Dropout, SameSeedSameMask) {
  const Tensor x = random({4, 5}, 2);
  Generator a(5), b(5), c(6);
  const Tensor ya = dropout(x, 0.5, true, &a), yb = dropout(x, 0.5, true, &b), yc = dropout(x, 0.5, true, &c);
  expect_close(ya, yb, 0);
  EXPECT_NE(ya.to_vector<double>(), yc.to_vector<double>());
  // The default generator, reseeded, repeats its masks too.
  manual_seed(9);
  const Tensor d1 = dropout(x, 0.5, true);
  manual_seed(9);
  expect_close(dropout(x, 0.5, true), d1, 0);
}

// The gradient is the same mask scaled by 1/(1-p): for x = 1, grad_x equals y.
TEST(Dropout, BackwardUsesTheForwardMask) {
  Generator gen(3);
  Tensor x = requires_grad(ones({6, 7}, DType::F64));
  const Tensor y = dropout(x, 0.4, true, &gen);
  y.sum().backward();
  expect_close(x.grad(), y.detach(), 0);
}

TEST(Dropout, GradientCheckWithAFixedGenerator) {
  expect_gradients(
      [](const std::vector<Tensor>& in) {
        Generator gen(17);  // a fresh generator per call: the same mask every time
        return dropout(in[0], 0.3, true, &gen);
      },
      {requires_grad(random({3, 5}, 8))});
}

// ---- Errors name the op, the argument and the values ----

TEST(ActivationErrors, Messages) {
  expect_error([] { relu(arange(4, DType::I64)); }, "relu: expected a floating-point tensor, got i64");
  expect_error([] { sigmoid(Tensor()); }, "sigmoid: input is an undefined tensor");
  expect_error([] { tanh(arange(4, DType::I64)); }, "tanh: expected a floating-point tensor, got i64");
  const Tensor x = zeros({2, 3});
  expect_error([&] { clamp(x, 2.0, 1.0); }, "clamp: the bounds must be numbers with min <= max, got [2, 1]");
  expect_error([&] { clamp(x, std::nan(""), 1.0); }, "clamp: the bounds must be numbers with min <= max, got [nan, 1]");
  expect_error([&] { leaky_relu(x, std::numeric_limits<double>::infinity()); },
               "leaky_relu: the negative slope must be finite, got inf");
  expect_error([&] { hardsigmoid(x, std::nan(""), 0.5); },
               "hardsigmoid: alpha and beta must be finite, got nan and 0.5");
  expect_error([] { hardswish(arange(4, DType::I64)); }, "hardswish: expected a floating-point tensor, got i64");
  expect_error([&] { dropout(x, 1.5, true); }, "dropout: p must be in [0, 1], got 1.5");
  expect_error([&] { dropout(x, -0.1, false); }, "dropout: p must be in [0, 1], got -0.1");
  expect_error([&] { dropout(x, std::numeric_limits<double>::quiet_NaN(), true); }, "dropout: p must be in [0, 1], got nan");
  expect_error([] { dropout(arange(4, DType::I64), 0.5, true); }, "dropout: expected a floating-point tensor, got i64");
}
