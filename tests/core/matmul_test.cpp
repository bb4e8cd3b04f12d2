// matmul: vector and matrix cases, batches with broadcasting, strided operands, errors.
#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

namespace {

// c[b] = a[b] x b[b] for dense (batch, m, k) and (batch, k, n), in double.
std::vector<double> naive_bmm(const Tensor& a, const Tensor& b) {
  const int64_t nb = a.shape()[0], m = a.shape()[1], k = a.shape()[2], n = b.shape()[2];
  const std::vector<double> va = a.to_vector<double>(), vb = b.to_vector<double>();
  std::vector<double> c(static_cast<std::size_t>(nb * m * n), 0.0);
  for (int64_t i = 0; i < nb; ++i)
    for (int64_t r = 0; r < m; ++r)
      for (int64_t col = 0; col < n; ++col)
        for (int64_t p = 0; p < k; ++p) c[(i * m + r) * n + col] += va[(i * m + r) * k + p] * vb[(i * k + p) * n + col];
  return c;
}

}  // namespace

TEST(Matmul, MatrixTimesMatrix) {
  const Tensor a = from_data({1, 2, 3, 4, 5, 6}, {2, 3});
  const Tensor b = from_data({7, 8, 9, 10, 11, 12}, {3, 2});
  expect_near(matmul(a, b), {2, 2}, {58, 64, 139, 154});
  expect_near(a.matmul(b), {2, 2}, {58, 64, 139, 154});
  expect_near(matmul(b, a), {3, 3}, {39, 54, 69, 49, 68, 87, 59, 82, 105});
  // Transposed (non-contiguous) operands.
  expect_near(matmul(b.transpose(0, 1), a.transpose(0, 1)), {2, 2}, {58, 139, 64, 154});
}

TEST(Matmul, VectorCases) {
  const Tensor v = from_data({1, 2, 3});
  const Tensor m = from_data({1, 2, 3, 4, 5, 6}, {3, 2});
  expect_near(matmul(v, v), {}, {14});
  expect_near(matmul(v, m), {2}, {22, 28});
  expect_near(matmul(m.transpose(0, 1), v), {2}, {22, 28});
  // Batched matrix times vector, and vector times batched matrix.
  const Tensor batch = arange(12).view({2, 3, 2});
  expect_near(matmul(batch, from_data({1, -1})), {2, 3}, {-1, -1, -1, -1, -1, -1});
  expect_near(matmul(from_data({1, 0, 1}), batch), {2, 2}, {4, 6, 16, 18});
}

TEST(Matmul, BatchedAndBroadcastBatches) {
  struct Case {
    Shape a, b, out;
  };
  const Case cases[] = {
      {{2, 2, 3}, {2, 3, 4}, {2, 2, 4}},           // same batch
      {{2, 2, 3}, {3, 4}, {2, 2, 4}},              // matrix broadcast over a batch
      {{2, 3}, {4, 3, 5}, {4, 2, 5}},              // and on the left
      {{2, 1, 2, 3}, {3, 3, 2}, {2, 3, 2, 2}},     // batch dims broadcast against each other
      {{1, 4, 3}, {5, 3, 2}, {5, 4, 2}},
  };
  uint64_t seed = 1;
  for (const Case& c : cases) {
    const Tensor a = random(c.a, seed++), b = random(c.b, seed++);
    const Tensor got = matmul(a, b);
    ASSERT_EQ(got.shape(), c.out) << c.a << " x " << c.b;
    // Reference: expand both to the full batch and multiply batch by batch.
    Shape batch;
    for (int i = 0; i < c.out.ndim() - 2; ++i) batch.push_back(c.out[i]);
    Shape fa = batch, fb = batch;
    fa.push_back(c.a.at(-2)), fa.push_back(c.a.at(-1));
    fb.push_back(c.b.at(-2)), fb.push_back(c.b.at(-1));
    const int64_t nb = batch.numel();
    const auto expected = naive_bmm(a.expand(fa).reshape({nb, c.a.at(-2), c.a.at(-1)}),
                                    b.expand(fb).reshape({nb, c.b.at(-2), c.b.at(-1)}));
    expect_near(got, c.out, expected, 1e-12);
  }
}

TEST(Matmul, LargeEnoughToRunInParallel) {
  const Tensor a = random({70, 80}, 3), b = random({80, 60}, 4);
  expect_near(matmul(a, b), {70, 60}, naive_bmm(a.unsqueeze(0), b.unsqueeze(0)), 1e-12);
  const Tensor af = a.to(DType::F32), bf = b.to(DType::F32);
  expect_near(matmul(af, bf), {70, 60}, naive_bmm(a.unsqueeze(0), b.unsqueeze(0)), 1e-5);
}

TEST(Matmul, Errors) {
  expect_error([] { matmul(zeros({2, 3}), zeros({4, 2})); }, "matmul: inner dimensions differ: [2,3] x [4,2] (3 vs 4)");
  expect_error([] { matmul(zeros({3}), zeros({4})); }, "matmul: inner dimensions differ: [3] x [4] (3 vs 4)");
  expect_error([] { matmul(zeros({2, 2, 3}), zeros({3, 3, 2})); },
               "matmul: shapes [2] and [3] cannot be broadcast together");
  expect_error([] { matmul(zeros({2, 2}), zeros({2, 2}, DType::F64)); },
               "matmul: operands have different dtypes (f32 and f64)");
  expect_error([] { matmul(zeros({2, 2}, DType::I64), zeros({2, 2})); },
               "matmul: left operand must be floating-point, got i64");
}
