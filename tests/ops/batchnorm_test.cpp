// Batch normalization: a hand-computed example (statistics, normalised values, running statistics
// after one step), 1-D/2-D/3-D inputs against the formula written with tensor ops, gradient checks
// over a table of modes and shapes, the reference kernels' derivatives, and errors.
#include <algorithm>
#include <functional>

#include "common/test_util.hpp"
#include "kernels/ref/batchnorm.hpp"
#include "ops/batchnorm.hpp"

using namespace strata;
using namespace strata::test;

namespace {

// x (4, 2): channel 0 holds 1, 2, 3, 4 (mean 2.5, biased var 1.25, unbiased 5/3); channel 1 holds
// 2, 4, 6, 8 (mean 5, biased var 5, unbiased 20/3).
Tensor hand_input() { return from_data({1, 2, 2, 4, 3, 6, 4, 8}, {4, 2}); }

// Shape of a per-channel (C) tensor broadcast against x (N, C, ...): (1, C, 1, ...).
Shape channel_shape(const Tensor& x) {
  Shape s;
  for (int i = 0; i < x.ndim(); ++i) s.push_back(i == 1 ? x.size(1) : 1);
  return s;
}

// Every dimension except the channel dimension 1.
std::vector<int> non_channel_dims(const Tensor& x) {
  std::vector<int> dims;
  for (int i = 0; i < x.ndim(); ++i)
    if (i != 1) dims.push_back(i);
  return dims;
}

}  // namespace

TEST(BatchNormValues, HandExampleTrainingThenEvaluation) {
  const Tensor x = hand_input();
  const Tensor w = from_data({1, 2}), b = from_data({0, 1});
  Tensor running_mean = zeros({2}), running_var = ones({2});
  // y = (x - mean) / sqrt(var + 1e-5) * w + b per channel.
  expect_near(batch_norm(x, w, b, running_mean, running_var, /*training=*/true), {4, 2},
              {-1.34163542, -1.68327889, -0.44721181, 0.10557370, 0.44721181, 1.89442630, 1.34163542, 3.68327889});
  // running = 0.9 running + 0.1 batch, with the unbiased variance: 0.9 + 0.1 * 5/3 and 0.9 + 0.1 * 20/3.
  expect_near(running_mean, {2}, {0.25, 0.5});
  expect_near(running_var, {2}, {1.06666667, 1.56666667});

  // Evaluation normalises with the running statistics and leaves them alone.
  expect_near(batch_norm(x, w, b, running_mean, running_var, /*training=*/false), {4, 2},
              {0.72618097, 3.39679874, 1.69442227, 6.59253039, 2.66266357, 9.78826203, 3.63090487, 12.98399368});
  expect_near(running_mean, {2}, {0.25, 0.5});
  expect_near(running_var, {2}, {1.06666667, 1.56666667});
}

TEST(BatchNormValues, MomentumZeroKeepsAndOneReplacesTheRunningStatistics) {
  const Tensor x = hand_input();
  Tensor mean0 = zeros({2}), var0 = ones({2}), mean1 = zeros({2}), var1 = ones({2});
  batch_norm(x, {}, {}, mean0, var0, true, /*momentum=*/0.0);
  batch_norm(x, {}, {}, mean1, var1, true, /*momentum=*/1.0);
  expect_near(mean0, {2}, {0, 0});
  expect_near(var0, {2}, {1, 1});
  expect_near(mean1, {2}, {2.5, 5});
  expect_near(var1, {2}, {5.0 / 3.0, 20.0 / 3.0});
}

TEST(BatchNormValues, TrainingWithoutRunningStatisticsAndEvaluationIdentity) {
  const Tensor x = hand_input();
  expect_close(batch_norm(x, {}, {}, {}, {}, true), batch_norm(x, {}, {}, zeros({2}), ones({2}), true));
  // Running mean 0 and variance 1: evaluation divides by sqrt(1 + eps) only.
  expect_close(batch_norm(x, {}, {}, zeros({2}), ones({2}), false), x * (1.0 / std::sqrt(1.0 + 1e-5)));
}

// Strided inputs and strided running statistics give the same result as dense ones.
TEST(BatchNormValues, NonContiguousInputAndRunningStatistics) {
  const Tensor x = random({3, 5, 4}, 21).transpose(0, 2);  // (4, 5, 3), not contiguous
  Tensor stats = zeros({10}, DType::F64);
  Tensor strided_mean = stats.slice(0, 0, 10, 2), dense_mean = zeros({5}, DType::F64);
  ASSERT_FALSE(strided_mean.is_contiguous());
  expect_close(batch_norm(x, {}, {}, strided_mean, {}, true), batch_norm(x.contiguous(), {}, {}, dense_mean, {}, true),
               1e-12);
  expect_close(strided_mean, dense_mean, 1e-12);
  expect_near(stats.slice(0, 1, 10, 2), {5}, std::vector<double>(5, 0.0));
}

// 1-D, 2-D and 3-D batch norm against the formula written with tensor ops.
class BatchNormShapes : public ::testing::TestWithParam<Shape> {};

TEST_P(BatchNormShapes, MatchTheFormula) {
  const Shape shape = GetParam();
  const Tensor x = random(shape, 31, DType::F64, -2.0, 3.0);
  const int64_t c = shape[1];
  const Tensor w = random({c}, 32), b = random({c}, 33), mean0 = random({c}, 34), var0 = random({c}, 35, DType::F64, 0.5, 2);
  Tensor running_mean = mean0.clone(), running_var = var0.clone();
  const Tensor y = batch_norm(x, w, b, running_mean, running_var, true, 0.1, 1e-3);

  const std::vector<int> dims = non_channel_dims(x);
  const double m = static_cast<double>(x.numel() / c);
  const Tensor mean = x.mean(dims, true), var = (x - mean).pow(2).mean(dims, true);
  const Tensor expected = (x - mean) / (var + 1e-3).sqrt() * w.reshape(channel_shape(x)) + b.reshape(channel_shape(x));
  expect_close(y, expected, 1e-12);
  expect_close(running_mean, mean0 * 0.9 + mean.reshape({c}) * 0.1, 1e-12);
  expect_close(running_var, var0 * 0.9 + var.reshape({c}) * (0.1 * m / (m - 1)), 1e-12);

  const Tensor y_eval = batch_norm(x, w, b, running_mean, running_var, false, 0.1, 1e-3);
  const Tensor expected_eval = (x - running_mean.reshape(channel_shape(x))) /
                                   (running_var.reshape(channel_shape(x)) + 1e-3).sqrt() * w.reshape(channel_shape(x)) +
                               b.reshape(channel_shape(x));
  expect_close(y_eval, expected_eval, 1e-12);
}

INSTANTIATE_TEST_SUITE_P(Table, BatchNormShapes,
                         ::testing::Values(Shape{5, 3}, Shape{2, 3, 7}, Shape{2, 3, 4, 5}, Shape{2, 2, 3, 4, 3}));

// Single precision: statistics accumulate in double, so a large offset does not swamp the variance.
TEST(BatchNormValues, FloatInputWithLargeOffset) {
  const Tensor x = random({64, 2, 8, 8}, 41, DType::F32) + 1000.0;
  const Tensor y = batch_norm(x, {}, {}, {}, {}, true);
  const Tensor mean = y.mean({0, 2, 3}), var = y.pow(2).mean({0, 2, 3});
  expect_near(mean, {2}, {0, 0}, 1e-3);
  expect_near(var, {2}, {1, 1}, 1e-3);
}

// ---- Gradient checks over a table of modes and shapes (double precision through autograd) ----

struct BatchNormCase {
  const char* name;
  Shape x;
  bool training, weight, bias;
};

void PrintTo(const BatchNormCase& c, std::ostream* os) { *os << c.name; }

class BatchNormGradients : public ::testing::TestWithParam<BatchNormCase> {};

TEST_P(BatchNormGradients, MatchFiniteDifferences) {
  const BatchNormCase& c = GetParam();
  const int64_t channels = c.x[1];
  const Tensor running_mean = random({channels}, 51), running_var = random({channels}, 52, DType::F64, 0.5, 2.0);
  std::vector<Tensor> inputs{requires_grad(random(c.x, 53)), c.weight ? requires_grad(random({channels}, 54)) : Tensor(),
                             c.bias ? requires_grad(random({channels}, 55)) : Tensor()};
  expect_gradients(
      [&](const std::vector<Tensor>& in) {
        // Training updates copies: the running statistics of the evaluation rows stay fixed.
        Tensor mean = running_mean.clone(), var = running_var.clone();
        return batch_norm(in[0], in[1], in[2], mean, var, c.training, 0.1, 1e-3);
      },
      inputs);
}

INSTANTIATE_TEST_SUITE_P(
    Table, BatchNormGradients,
    ::testing::Values(BatchNormCase{"train_1d", {5, 3}, true, true, true},
                      BatchNormCase{"train_batch2", {2, 4}, true, true, true},
                      BatchNormCase{"train_2d", {2, 3, 3, 4}, true, true, true},
                      BatchNormCase{"train_2d_no_affine", {3, 2, 2, 3}, true, false, false},
                      BatchNormCase{"train_batch1_spatial", {1, 2, 3, 3}, true, true, false},
                      BatchNormCase{"train_3d", {2, 2, 2, 3, 2}, true, false, true},
                      BatchNormCase{"train_odd", {3, 5, 7}, true, true, true},
                      BatchNormCase{"eval_1d", {4, 3}, false, true, true},
                      BatchNormCase{"eval_2d_no_affine", {2, 3, 3, 2}, false, false, false},
                      BatchNormCase{"eval_3d_weight_only", {2, 2, 2, 2, 3}, false, true, false},
                      BatchNormCase{"eval_batch1", {1, 3, 2, 2}, false, true, true}),
    [](const ::testing::TestParamInfo<BatchNormCase>& info) { return std::string(info.param.name); });

// batch_norm with a ReLU epilogue: exactly the values, gradients and running statistics of relu(batch_norm(...))
// in both modes, and a gradient check of the fused op.
TEST(BatchNormFusedRelu, EqualsReluOfBatchNormInValuesAndGradients) {
  for (const bool training : {true, false}) {
    const Shape xs{3, 4, 3, 2};
    const Tensor mean0 = random({4}, 61), var0 = random({4}, 62, DType::F64, 0.5, 2.0);
    Tensor mean[2] = {mean0.clone(), mean0.clone()}, var[2] = {var0.clone(), var0.clone()};
    std::vector<Tensor> a{requires_grad(random(xs, 63)), requires_grad(random({4}, 64)), requires_grad(random({4}, 65))};
    std::vector<Tensor> b{requires_grad(a[0].detach().clone()), requires_grad(a[1].detach().clone()),
                          requires_grad(a[2].detach().clone())};
    const Tensor ya = relu(batch_norm(a[0], a[1], a[2], mean[0], var[0], training, 0.1, 1e-5));
    const Tensor yb = batch_norm(b[0], b[1], b[2], mean[1], var[1], training, 0.1, 1e-5, Activation::Relu);
    const Tensor gy = random(xs, 66);
    (ya * gy).sum().backward();
    (yb * gy).sum().backward();
    EXPECT_EQ(ya.to_vector<double>(), yb.to_vector<double>()) << "training " << training;
    const std::vector<double> values = yb.to_vector<double>();
    EXPECT_GT(std::count(values.begin(), values.end(), 0.0), 0) << "some outputs must be clamped";
    for (int i = 0; i < 3; ++i) EXPECT_EQ(a[i].grad().to_vector<double>(), b[i].grad().to_vector<double>()) << i;
    EXPECT_EQ(mean[0].to_vector<double>(), mean[1].to_vector<double>());
    EXPECT_EQ(var[0].to_vector<double>(), var[1].to_vector<double>());
    expect_gradients(
        [&](const std::vector<Tensor>& in) {
          Tensor m = mean0.clone(), v = var0.clone();
          return batch_norm(in[0], in[1], in[2], m, v, training, 0.1, 1e-3, Activation::Relu);
        },
        {requires_grad(random(xs, 67)), requires_grad(random({4}, 68)), requires_grad(random({4}, 69))});
  }
}

// The reference kernels themselves, in double, against central differences of the forward
// kernels (no autograd involved): the objective is <y, gy>.
TEST(BatchNormKernelRef, BackwardIsTheForwardsDerivative) {
  const Shape shape{3, 4, 2, 3};
  const BatchNormGeom g = BatchNormGeom::make(shape, nullptr, nullptr, nullptr, nullptr, true, 0.1, 1e-3);
  const Tensor x = random(shape, 61), w = random({4}, 62), b = random({4}, 63), gy = random(shape, 64);
  const Tensor running_mean = random({4}, 65), running_var = random({4}, 66, DType::F64, 0.5, 2.0);
  for (bool training : {true, false}) {
    SCOPED_TRACE(training ? "training" : "evaluation");
    Tensor y = empty(shape, DType::F64), mean = empty({4}, DType::F64), invstd = empty({4}, DType::F64);
    auto objective = [&]() {
      if (training)
        ref::batch_norm_forward_training<double>(g, x.data<double>(), w.data<double>(), b.data<double>(), nullptr,
                                                 nullptr, 0.1, 1e-3, y.mutable_data<double>(), mean.mutable_data<double>(),
                                                 invstd.mutable_data<double>());
      else
        ref::batch_norm_forward_inference<double>(g, x.data<double>(), w.data<double>(), b.data<double>(),
                                                  running_mean.data<double>(), running_var.data<double>(), 1e-3,
                                                  y.mutable_data<double>(), mean.mutable_data<double>(), invstd.mutable_data<double>());
      return (y * gy).sum().item();
    };
    objective();  // fills mean and invstd for the backward kernel
    Tensor gx = empty(shape, DType::F64), gw = empty({4}, DType::F64), gb = empty({4}, DType::F64);
    ref::batch_norm_backward<double>(g, gy.data<double>(), x.data<double>(), w.data<double>(), mean.data<double>(),
                                     invstd.mutable_data<double>(), training, gx.mutable_data<double>(), gw.mutable_data<double>(),
                                     gb.mutable_data<double>());
    expect_derivative(objective, x, gx, 1e-6);
    expect_derivative(objective, w, gw, 1e-6);
    expect_derivative(objective, b, gb, 1e-6);
  }
}

// ---- Errors name the op, the argument and the values ----

TEST(BatchNormErrors, Messages) {
  const Tensor x = zeros({2, 3, 4, 4});
  expect_error([] { batch_norm(zeros({1, 3}), {}, {}, {}, {}, true); },
               "batch_norm: expected more than 1 value per channel when training, got input size [1,3]");
  expect_error([] { batch_norm(zeros({3}), {}, {}, {}, {}, true); },
               "batch_norm: expected an input of 2 or more dimensions (N, C, ...), got [3]");
  expect_error([&] { batch_norm(x, zeros({4}), {}, {}, {}, true); },
               "batch_norm: weight must have shape [3] (one per channel), got [4]");
  expect_error([&] { batch_norm(x, {}, zeros({3, 1}), {}, {}, true); }, "batch_norm: bias must have shape [3]");
  expect_error([&] { batch_norm(x, {}, {}, zeros({2}), ones({3}), true); },
               "batch_norm: running_mean must have shape [3] (one per channel), got [2]");
  expect_error([&] { batch_norm(x, {}, {}, zeros({3}), ones({5}), false); }, "batch_norm: running_var must have shape [3]");
  expect_error([&] { batch_norm(x, {}, {}, {}, {}, false); },
               "batch_norm: running_mean and running_var must be defined in evaluation mode");
  expect_error([&] { batch_norm(x, {}, {}, {}, {}, true, 0.1, 0.0); }, "batch_norm: eps must be positive, got 0");
  expect_error([&] { batch_norm(x, {}, {}, {}, {}, true, 1.5); }, "batch_norm: momentum must be in [0, 1], got 1.5");
  expect_error([&] { batch_norm(x, zeros({3}, DType::F64), {}, {}, {}, true); },
               "batch_norm: weight is f64 but input is f32");
  expect_error([&] { batch_norm(zeros({2, 3}, DType::I64), {}, {}, {}, {}, true); },
               "batch_norm: input must be floating-point, got i64");
  expect_error([&] { batch_norm(x, {}, {}, requires_grad(zeros({3})), ones({3}), true); },
               "batch_norm: running_mean and running_var are buffers and must not require grad");
}
