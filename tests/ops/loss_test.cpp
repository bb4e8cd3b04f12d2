// softmax, log_softmax and cross_entropy: values (PyTorch's results computed by hand), stability
// for large logits, agreement with the formulas written with tensor ops, gradient checks over a
// table, the reference kernels' derivatives, and errors.
#include <cmath>
#include <functional>
#include <limits>

#include "common/test_util.hpp"
#include "kernels/ref/loss.hpp"
#include "ops/loss.hpp"

using namespace strata;
using namespace strata::test;

namespace {

Tensor labels(std::vector<int64_t> v) { return from_data(std::span<const int64_t>(v)); }

}  // namespace

// softmax([1, 2, 3]) = e^k / (e + e^2 + e^3); log_softmax = k - log(e + e^2 + e^3).
TEST(SoftmaxValues, Example) {
  const Tensor x = from_data({1, 2, 3});
  expect_near(softmax(x, 0), {3}, {0.09003057, 0.24472847, 0.66524096});
  expect_near(log_softmax(x, -1), {3}, {-2.40760596, -1.40760596, -0.40760596});
}

// Subtracting the maximum first: logits near 1000 give the same result as near 0, in f32 too.
TEST(SoftmaxValues, StableForLargeLogits) {
  for (DType dtype : {DType::F32, DType::F64}) {
    const Tensor x = from_data({1000, 1001, 1002, -1000, -999, -998}, {2, 3}).to(dtype);
    expect_near(softmax(x, 1), {2, 3}, {0.09003057, 0.24472847, 0.66524096, 0.09003057, 0.24472847, 0.66524096});
    expect_near(log_softmax(x, 1), {2, 3},
                {-2.40760596, -1.40760596, -0.40760596, -2.40760596, -1.40760596, -0.40760596});
  }
}

// -inf logits (masked classes) get probability 0 and log-probability -inf; a scalar is one class.
TEST(SoftmaxValues, InfinityAndScalar) {
  const double inf = std::numeric_limits<double>::infinity();
  const Tensor x = from_data(std::vector<double>{-inf, 0.0, 0.0});
  expect_near(softmax(x, 0), {3}, {0, 0.5, 0.5});
  const std::vector<double> lp = log_softmax(x, 0).to_vector<double>();
  EXPECT_EQ(lp[0], -inf);
  EXPECT_NEAR(lp[1], -std::log(2.0), 1e-12);
  const Tensor scalar = full({}, 3.5, DType::F64);
  expect_near(softmax(scalar, 0), {}, {1});
  expect_near(log_softmax(scalar, -1), {}, {0});
}

// Along every dimension of a 3-D tensor (and strided input): exp(x) / sum exp(x) written with tensor ops.
TEST(SoftmaxValues, EveryDimensionMatchesTheFormula) {
  const Tensor x = random({3, 4, 5}, 9, DType::F64, -3, 3);
  for (int dim : {0, 1, 2, -1, -3}) {
    SCOPED_TRACE(dim);
    const Tensor e = x.exp();
    const Tensor expected = e / e.sum({dim}, true);
    expect_close(softmax(x, dim), expected, 1e-12);
    expect_close(log_softmax(x, dim), expected.log(), 1e-12);
  }
  const Tensor xt = x.transpose(0, 2);
  expect_close(softmax(xt, 1), softmax(xt.contiguous(), 1), 1e-15);
}

// PyTorch: F.cross_entropy([[1, 2, 3]], [2]) = log(e + e^2 + e^3) - 3 = 0.40760596.
TEST(CrossEntropyValues, Examples) {
  expect_near(cross_entropy(from_data({1, 2, 3}, {1, 3}), labels({2})), {}, {0.40760596});
  const Tensor logits = from_data({1, 2, 3, 1, -1, 0.5}, {2, 3});
  const Tensor targets = labels({2, 0});
  expect_near(cross_entropy(logits, targets), {}, {0.48128144});
  // With label smoothing e: -(1-e) logp[t] - (e/K) sum_k logp[k], averaged over the batch.
  expect_near(cross_entropy(logits, targets, 0.1), {}, {0.57294811});
  expect_near(cross_entropy(logits, targets, 0.2), {}, {0.66461478});
  // [[1, 2, 3]], target 2, e = 0.1: 0.9 * 0.40760596 + 0.1/3 * (2.40760596 + 1.40760596 + 0.40760596).
  expect_near(cross_entropy(from_data({1, 2, 3}, {1, 3}), labels({2}), 0.1), {}, {0.50760596});
}

// The fused loss equals -(q * log_softmax(x)).sum(1).mean() written with tensor ops.
TEST(CrossEntropyValues, MatchesTheFormula) {
  const Tensor logits = random({6, 5}, 3, DType::F64, -4, 4);
  const Tensor targets = labels({0, 4, 2, 2, 1, 3});
  for (double e : {0.0, 0.25, 1.0}) {
    SCOPED_TRACE(e);
    Tensor q = full({6, 5}, e / 5, DType::F64);
    {
      const std::vector<int64_t> t = targets.to_vector<int64_t>();
      double* pq = q.mutable_data<double>();
      for (int64_t n = 0; n < 6; ++n) pq[n * 5 + t[n]] += 1 - e;
    }
    const Tensor expected = -(q * log_softmax(logits, 1)).sum({1}).mean();
    expect_close(cross_entropy(logits, targets, e), expected, 1e-12);
  }
}

TEST(CrossEntropyValues, StableForLargeLogits) {
  // log(e^1000 + e^0) - 0 = 1000 without overflow, in f32.
  expect_near(cross_entropy(from_data({1000, 0}, {1, 2}), labels({1})), {}, {1000});
  expect_near(cross_entropy(from_data({1000, 0}, {1, 2}), labels({0})), {}, {0});
}

// grad = (softmax - onehot) / N: for [[1, 2, 3]], target 2, (p0, p1, p2 - 1).
TEST(CrossEntropyValues, GradientIsSoftmaxMinusTarget) {
  Tensor logits = requires_grad(from_data({1, 2, 3}, {1, 3}));
  cross_entropy(logits, labels({2})).backward();
  expect_near(logits.grad(), {1, 3}, {0.09003057, 0.24472847, -0.33475904});
  // Two rows: each row's gradient is halved by the mean over the batch; a scale on the loss
  // scales the gradient.
  Tensor two = requires_grad(from_data({1, 2, 3, 1, 2, 3}, {2, 3}));
  (cross_entropy(two, labels({2, 0})) * 3.0).backward();
  expect_near(two.grad(), {2, 3},
              {1.5 * 0.09003057, 1.5 * 0.24472847, -1.5 * 0.33475904, 1.5 * (0.09003057 - 1), 1.5 * 0.24472847,
               1.5 * 0.66524096});
}

// ---- Gradient checks over tables (double precision through autograd) ----

struct SoftmaxCase {
  const char* name;
  Shape x;
  int dim;
  bool log;
};

void PrintTo(const SoftmaxCase& c, std::ostream* os) { *os << c.name; }

class SoftmaxGradients : public ::testing::TestWithParam<SoftmaxCase> {};

TEST_P(SoftmaxGradients, MatchFiniteDifferences) {
  const SoftmaxCase& c = GetParam();
  expect_gradients(
      [&](const std::vector<Tensor>& in) { return c.log ? log_softmax(in[0], c.dim) : softmax(in[0], c.dim); },
      {requires_grad(random(c.x, 21, DType::F64, -2, 2))});
}

INSTANTIATE_TEST_SUITE_P(Table, SoftmaxGradients,
                         ::testing::Values(SoftmaxCase{"softmax_dim0", {3, 4, 5}, 0, false},
                                           SoftmaxCase{"softmax_dim1", {3, 4, 5}, 1, false},
                                           SoftmaxCase{"softmax_last", {3, 4, 5}, -1, false},
                                           SoftmaxCase{"softmax_rows", {2, 7}, 1, false},
                                           SoftmaxCase{"log_softmax_dim0", {3, 4, 5}, 0, true},
                                           SoftmaxCase{"log_softmax_dim1", {3, 4, 5}, 1, true},
                                           SoftmaxCase{"log_softmax_last", {3, 4, 5}, -1, true},
                                           SoftmaxCase{"log_softmax_nchw", {2, 3, 2, 2}, 1, true}),
                         [](const ::testing::TestParamInfo<SoftmaxCase>& info) { return std::string(info.param.name); });

struct CrossEntropyCase {
  const char* name;
  int64_t batch, classes;
  double smoothing;
};

void PrintTo(const CrossEntropyCase& c, std::ostream* os) { *os << c.name; }

class CrossEntropyGradients : public ::testing::TestWithParam<CrossEntropyCase> {};

TEST_P(CrossEntropyGradients, MatchFiniteDifferences) {
  const CrossEntropyCase& c = GetParam();
  Generator gen(31);
  std::vector<int64_t> t;
  for (int64_t n = 0; n < c.batch; ++n) t.push_back(static_cast<int64_t>(gen.below(c.classes)));
  const Tensor targets = labels(t);
  expect_gradients(
      // A factor on the loss checks that the incoming gradient scales the result.
      [&](const std::vector<Tensor>& in) { return cross_entropy(in[0], targets, c.smoothing) * 1.7; },
      {requires_grad(random({c.batch, c.classes}, 22, DType::F64, -3, 3))});
}

INSTANTIATE_TEST_SUITE_P(Table, CrossEntropyGradients,
                         ::testing::Values(CrossEntropyCase{"batch1", 1, 3, 0.0}, CrossEntropyCase{"batch5", 5, 10, 0.0},
                                           CrossEntropyCase{"smoothing", 4, 7, 0.1},
                                           CrossEntropyCase{"full_smoothing", 3, 4, 1.0},
                                           CrossEntropyCase{"two_classes", 6, 2, 0.3}),
                         [](const ::testing::TestParamInfo<CrossEntropyCase>& info) {
                           return std::string(info.param.name);
                         });

// The reference kernels themselves, in double, against central differences of the forward
// kernels (no autograd involved).
TEST(SoftmaxKernelRef, BackwardIsTheForwardsDerivative) {
  const SoftmaxGeom g = SoftmaxGeom::make("softmax", {2, 4, 3}, 1);  // (outer 2, K 4, inner 3)
  const Tensor x = random(g.shape, 41), gy = random(g.shape, 42);
  for (bool log : {false, true}) {
    SCOPED_TRACE(log ? "log_softmax" : "softmax");
    Tensor y = empty(g.shape, DType::F64), gx = empty(g.shape, DType::F64);
    auto objective = [&]() {  // <y, gy>
      ref::softmax_forward<double>(g, x.mutable_data<double>(), log, y.mutable_data<double>());
      return (y * gy).sum().item();
    };
    objective();
    ref::softmax_backward<double>(g, gy.mutable_data<double>(), y.mutable_data<double>(), log, gx.mutable_data<double>());
    expect_derivative(objective, x, gx);
  }
}

TEST(CrossEntropyKernelRef, BackwardIsTheForwardsDerivative) {
  const Tensor targets = labels({3, 0, 4, 4});
  for (double e : {0.0, 0.2}) {
    SCOPED_TRACE(e);
    const CrossEntropyGeom g = CrossEntropyGeom::make({4, 5}, targets.shape(), e);
    const Tensor x = random({4, 5}, 43);
    Tensor log_probs = empty({4, 5}, DType::F64), loss = empty({}, DType::F64), gx = empty({4, 5}, DType::F64);
    auto objective = [&]() {
      ref::cross_entropy_forward<double>(g, x.mutable_data<double>(), targets.mutable_data<int64_t>(), log_probs.mutable_data<double>(),
                                         loss.mutable_data<double>());
      return 0.8 * loss.item();
    };
    objective();
    ref::cross_entropy_backward<double>(g, 0.8, log_probs.mutable_data<double>(), targets.mutable_data<int64_t>(), gx.mutable_data<double>());
    expect_derivative(objective, x, gx);
  }
}

// ---- Errors name the op, the argument and the values ----

TEST(LossErrors, Messages) {
  const Tensor logits = zeros({4, 10});
  expect_error([&] { cross_entropy(logits, labels({1, 2, 3, 12})); },
               "cross_entropy: target 12 at index 3 is out of range for 10 classes");
  expect_error([&] { cross_entropy(logits, labels({-1, 2, 3, 4})); },
               "cross_entropy: target -1 at index 0 is out of range for 10 classes");
  expect_error([&] { cross_entropy(zeros({4, 10, 2}), labels({1, 2, 3, 4})); },
               "cross_entropy: expected 2-D logits (N, K), got [4,10,2]");
  expect_error([&] { cross_entropy(logits, labels({1, 2, 3})); },
               "cross_entropy: expected targets of shape [4] (one class index per row of logits [4,10]), got [3]");
  expect_error([&] { cross_entropy(logits, zeros({4})); }, "cross_entropy: targets must be i64 class indices, got f32");
  expect_error([&] { cross_entropy(logits, labels({1, 2, 3, 4}), 1.5); },
               "cross_entropy: label_smoothing must be in [0, 1], got 1.5");
  expect_error([&] { cross_entropy(logits, labels({1, 2, 3, 4}), -0.1); },
               "cross_entropy: label_smoothing must be in [0, 1], got -0.1");
  expect_error([&] { cross_entropy(arange(4, DType::I64).reshape({2, 2}), labels({0, 1})); },
               "cross_entropy: logits must be floating-point, got i64");
  expect_error([] { softmax(zeros({2, 3}), 2); },
               "softmax: dimension 2 is out of range for a tensor with 2 dimensions (expected -2 to 1)");
  expect_error([] { log_softmax(zeros({2, 3}), -3); }, "log_softmax: dimension -3 is out of range");
  expect_error([] { softmax(arange(3, DType::I64), 0); }, "softmax: expected a floating-point tensor, got i64");
}
