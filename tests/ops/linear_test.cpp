// matmul and linear: hand-computed values (vector, matrix and broadcast batched cases), gradient
// checks over tables of shapes, the reference kernels' derivatives and transposes, and errors.
#include <functional>

#include "common/test_util.hpp"
#include "core/dispatch.hpp"
#include "ops/linear.hpp"

using namespace strata;
using namespace strata::test;

namespace {

// [[1, 2, 3], [4, 5, 6]] and [[7, 8], [9, 10], [11, 12]].
Tensor matrix_a() { return from_data({1, 2, 3, 4, 5, 6}, {2, 3}); }
Tensor matrix_b() { return from_data({7, 8, 9, 10, 11, 12}, {3, 2}); }

}  // namespace

TEST(MatmulValues, MatrixAndVectorCases) {
  const Tensor a = matrix_a(), b = matrix_b();
  expect_near(matmul(a, b), {2, 2}, {58, 64, 139, 154});
  expect_near(a.matmul(b), {2, 2}, {58, 64, 139, 154});
  expect_near(matmul(from_data({1, 2, 3}), b), {2}, {58, 64});          // (3) x (3, 2) -> (2)
  expect_near(matmul(a, from_data({1, 2, 3})), {2}, {14, 32});          // (2, 3) x (3) -> (2)
  expect_near(matmul(from_data({1, 2, 3}), from_data({4, 5, 6})), {}, {32});  // dot product, 0-D
}

// Batch dimensions broadcast: (2, 1, 2, 3) x (3, 3, 2) -> (2, 3, 2, 2), out[i, j] = a[i, 0] b[j].
TEST(MatmulValues, BatchedBroadcast) {
  const Tensor a = random({2, 1, 2, 3}, 1), b = random({3, 3, 2}, 2);
  const Tensor c = matmul(a, b);
  ASSERT_EQ(c.shape(), (Shape{2, 3, 2, 2}));
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 3; ++j)
      expect_close(c.slice(0, i, i + 1).slice(1, j, j + 1).reshape({2, 2}),
                   matmul(a.slice(0, i, i + 1).reshape({2, 3}), b.slice(0, j, j + 1).reshape({3, 2})), 1e-12);
  // Strided operands give the same product as dense ones.
  const Tensor at = random({3, 2}, 3).transpose(0, 1);
  expect_close(matmul(at, b.slice(0, 0, 1).reshape({3, 2})), matmul(at.contiguous(), b.slice(0, 0, 1).reshape({3, 2})),
               1e-12);
}

// y = x w^T + b: rows [1, 2, 3] and [4, 5, 6], weight rows [1, 0, -1] and [0.5, 0.5, 0.5], bias [10, -1].
TEST(LinearValues, HandExample) {
  const Tensor x = matrix_a();
  const Tensor w = from_data({1, 0, -1, 0.5, 0.5, 0.5}, {2, 3}), b = from_data({10, -1});
  expect_near(linear(x, w, b), {2, 2}, {8, 2, 8, 6.5});
  expect_near(linear(x, w), {2, 2}, {-2, 3, -2, 7.5});
  expect_near(linear(from_data({1, 2, 3}), w, b), {2}, {8, 2});  // a single vector
  // Leading dims are batch dims: (2, 2, 3) -> (2, 2, 2).
  const Tensor x3 = random({2, 2, 3}, 4, DType::F32);
  expect_close(linear(x3, w, b), linear(x3.reshape({4, 3}), w, b).reshape({2, 2, 2}));
  // LeNet's first fully connected layer: 16*5*5 = 400 features to 120.
  EXPECT_EQ(linear(zeros({4, 400}), zeros({120, 400}), zeros({120})).shape(), (Shape{4, 120}));
}

// For L = sum(linear(x, w, b)): dL/db = N per output, dL/dw[o] = sum of the rows of x, dL/dx[n] = sum_o w[o].
TEST(LinearValues, GradientsOfTheSum) {
  Tensor x = requires_grad(from_data({1, 2, 3, 4, 5, 6}, {2, 3}));
  Tensor w = requires_grad(from_data({1, 0, -1, 0.5, 0.5, 0.5}, {2, 3}));
  Tensor b = requires_grad(from_data({10, -1}));
  linear(x, w, b).sum().backward();
  expect_near(b.grad(), {2}, {2, 2});
  expect_near(w.grad(), {2, 3}, {5, 7, 9, 5, 7, 9});
  expect_near(x.grad(), {2, 3}, {1.5, 0.5, -0.5, 1.5, 0.5, -0.5});
}

// ---- Gradient checks over tables (double precision through autograd) ----

struct MatmulCase {
  const char* name;
  Shape a, b;
};

void PrintTo(const MatmulCase& c, std::ostream* os) { *os << c.name; }

class MatmulGradients : public ::testing::TestWithParam<MatmulCase> {};

TEST_P(MatmulGradients, MatchFiniteDifferences) {
  const MatmulCase& c = GetParam();
  expect_gradients([](const std::vector<Tensor>& in) { return matmul(in[0], in[1]); },
                   {requires_grad(random(c.a, 11)), requires_grad(random(c.b, 12))});
}

INSTANTIATE_TEST_SUITE_P(Table, MatmulGradients,
                         ::testing::Values(MatmulCase{"matrix", {3, 4}, {4, 5}},
                                           MatmulCase{"vector_matrix", {4}, {4, 3}},
                                           MatmulCase{"matrix_vector", {3, 4}, {4}},
                                           MatmulCase{"dot", {5}, {5}},
                                           MatmulCase{"batched", {2, 3, 4}, {2, 4, 2}},
                                           MatmulCase{"broadcast", {2, 1, 2, 3}, {3, 3, 2}},
                                           MatmulCase{"batch_times_matrix", {3, 2, 4}, {4, 5}},
                                           MatmulCase{"matrix_times_batch", {2, 3}, {4, 3, 2}},
                                           MatmulCase{"ones", {1, 1}, {1, 1}}),
                         [](const ::testing::TestParamInfo<MatmulCase>& info) { return std::string(info.param.name); });

struct LinearCase {
  const char* name;
  Shape x, w;
  bool bias;
};

void PrintTo(const LinearCase& c, std::ostream* os) { *os << c.name; }

class LinearGradients : public ::testing::TestWithParam<LinearCase> {};

TEST_P(LinearGradients, MatchFiniteDifferences) {
  const LinearCase& c = GetParam();
  expect_gradients([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                   {requires_grad(random(c.x, 13)), requires_grad(random(c.w, 14)),
                    c.bias ? requires_grad(random({c.w[0]}, 15)) : Tensor()});
}

INSTANTIATE_TEST_SUITE_P(Table, LinearGradients,
                         ::testing::Values(LinearCase{"basic", {4, 6}, {3, 6}, true},
                                           LinearCase{"no_bias", {4, 6}, {3, 6}, false},
                                           LinearCase{"batch1", {1, 5}, {7, 5}, true},
                                           LinearCase{"batched_input", {2, 3, 5}, {4, 5}, true},
                                           LinearCase{"vector_input", {5}, {3, 5}, true},
                                           LinearCase{"one_feature", {3, 1}, {1, 1}, true}),
                         [](const ::testing::TestParamInfo<LinearCase>& info) { return std::string(info.param.name); });

// The reference linear kernels themselves, in double, against central differences of the forward
// kernel (no autograd involved): the objective is <y, gy>.
TEST(LinearKernelRef, BackwardKernelsAreTheForwardsDerivative) {
  const LinearKernels* k = KernelRegistry<LinearKernels>::entries(Backend::Ref).front().table;
  ASSERT_NE(k, nullptr);
  const Tensor x = random({4, 5}, 21), w = random({3, 5}, 22), b = random({3}, 23), gy = random({4, 3}, 24);
  auto objective = [&]() { return (k->forward(x, w, b) * gy).sum().item(); };
  expect_derivative(objective, x, k->backward_data(gy, w));
  expect_derivative(objective, w, k->backward_weight(gy, x));
  expect_derivative(objective, b, k->backward_bias(gy));
}

// The reference batched product with every combination of transposed operands, against the
// definition c[i, j] = sum_p op(a)[i, p] op(b)[p, j].
TEST(MatmulKernelRef, TransposedOperands) {
  const MatmulKernels* k = KernelRegistry<MatmulKernels>::entries(Backend::Ref).front().table;
  ASSERT_NE(k, nullptr);
  const int64_t batch = 2, m = 3, n = 4, depth = 5;
  for (bool ta : {false, true})
    for (bool tb : {false, true}) {
      SCOPED_TRACE(testing::Message() << "ta " << ta << " tb " << tb);
      const Tensor a = random(ta ? Shape{batch, depth, m} : Shape{batch, m, depth}, 31);
      const Tensor b = random(tb ? Shape{batch, n, depth} : Shape{batch, depth, n}, 32);
      const Tensor c = empty({batch, m, n}, DType::F64);
      k->bmm(c, a, b, batch, m, n, depth, ta, tb);
      const double* pa = a.data<double>();
      const double* pb = b.data<double>();
      std::vector<double> expected;
      for (int64_t s = 0; s < batch; ++s)
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) {
            double acc = 0.0;
            for (int64_t p = 0; p < depth; ++p)
              acc += pa[s * m * depth + (ta ? p * m + i : i * depth + p)] *
                     pb[s * depth * n + (tb ? j * depth + p : p * n + j)];
            expected.push_back(acc);
          }
      expect_near(c, {batch, m, n}, expected, 1e-12);
    }
}

// ---- Errors name the op, the argument and the values ----

TEST(LinearErrors, Messages) {
  expect_error([] { linear(zeros({1, 576}), zeros({120, 400})); },
               "linear: input has 576 features but weight expects 400 (input [1,576], weight [120,400])");
  expect_error([] { linear(zeros({1, 400}), zeros({400})); },
               "linear: weight must be 2-D (out_features, in_features), got [400]");
  expect_error([] { linear(zeros({1, 400}), zeros({120, 400}), zeros({100})); },
               "linear: bias must be (120) of dtype f32, got [100] f32");
  expect_error([] { linear(zeros({1, 400}, DType::F64), zeros({120, 400})); }, "linear: input is f64 but weight is f32");
  expect_error([] { linear(arange(4, DType::I64).reshape({1, 4}), zeros({2, 4})); },
               "linear: input must be floating-point, got i64");
  expect_error([] { linear(Tensor(), zeros({2, 4})); }, "linear: input is an undefined tensor");
  expect_error([] { linear(full({}, 1.0), zeros({1, 1})); }, "linear: input must have at least one dimension");
}

TEST(MatmulErrors, Messages) {
  expect_error([] { matmul(zeros({2, 3}), zeros({4, 2})); }, "matmul: inner dimensions differ: [2,3] x [4,2] (3 vs 4)");
  expect_error([] { matmul(zeros({2, 3}), zeros({3, 2}, DType::F64)); },
               "matmul: operands have different dtypes (f32 and f64)");
  expect_error([] { matmul(full({}, 1.0), zeros({3})); },
               "matmul: operands must have at least one dimension, got [] and [3]");
  expect_error([] { matmul(zeros({2, 2, 3}), zeros({3, 3, 4})); }, "matmul: shapes [2] and [3] cannot be broadcast together");
  expect_error([] { matmul(arange(3, DType::I64), zeros({3})); }, "matmul: left operand must be floating-point, got i64");
}
