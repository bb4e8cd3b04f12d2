// clip_grad_norm against torch.nn.utils.clip_grad_norm_.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "common/test_util.hpp"
#include "optim/optim_util.hpp"

namespace strata::test {
namespace {

// The three gradients of tools/optim_golden.py's clip_case, on zero parameters of `dtype`.
std::vector<Tensor> clip_params(DType dtype) {
  const std::vector<std::pair<std::vector<double>, Shape>> grads{
      {{0.3, -1.2, 0.5}, {3}}, {{2.0, -0.1, 0.7, 1.5}, {2, 2}}, {{-0.4}, {1}}};
  std::vector<Tensor> params;
  for (const auto& [values, shape] : grads) {
    Tensor p = requires_grad(zeros(shape, dtype));
    p.set_grad(from_data(std::span<const double>(values), shape).to(dtype));
    params.push_back(p);
  }
  return params;
}

void expect_clip(double max_norm, double norm_type, const std::vector<double>& golden, DType dtype, double tol) {
  const std::vector<Tensor> params = clip_params(dtype);
  const double total = optim::clip_grad_norm(params, max_norm, norm_type);
  EXPECT_NEAR(total, golden[0], tol * golden[0]) << "norm_type " << norm_type;
  std::vector<double> got;
  for (const Tensor& p : params)
    for (double v : p.grad().to_vector<double>()) got.push_back(v);
  ASSERT_EQ(got.size() + 1, golden.size());
  for (std::size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], golden[i + 1], tol * (1 + std::abs(golden[i + 1])))
        << "norm_type " << norm_type << ", element " << i;
}

TEST(ClipGradNorm, MatchesPyTorch) {
  const double inf = std::numeric_limits<double>::infinity();
  for (const auto& [dtype, tol] : {std::pair{DType::F64, 1e-13}, std::pair{DType::F32, 1e-6}}) {
    expect_clip(1.0, 2.0, golden::kClipL2, dtype, tol);
    expect_clip(2.0, 1.0, golden::kClipL1, dtype, tol);
    expect_clip(0.5, inf, golden::kClipInf, dtype, tol);
    expect_clip(1.0, 3.0, golden::kClipL3, dtype, tol);
    expect_clip(100.0, 2.0, golden::kClipNone, dtype, tol);  // below max_norm: untouched
  }
}

TEST(ClipGradNorm, SkipsParametersWithoutGradient) {
  std::vector<Tensor> params = clip_params(DType::F64);
  params.push_back(requires_grad(zeros({5}, DType::F64)));
  EXPECT_NEAR(optim::clip_grad_norm(params, 1.0), golden::kClipL2[0], 1e-13);
  EXPECT_FALSE(params.back().grad().defined());
  EXPECT_EQ(optim::clip_grad_norm({requires_grad(zeros({2}))}, 1.0), 0.0);
}

// Large enough for the multi-threaded reduction: 100000 elements of 0.01 have L2 norm sqrt(10).
TEST(ClipGradNorm, LargeGradient) {
  Tensor p = requires_grad(zeros({100000}));
  p.set_grad(full({100000}, 0.01));
  EXPECT_NEAR(optim::clip_grad_norm({p}, 1.0), std::sqrt(10.0), 1e-6);
  EXPECT_NEAR(p.grad().to_vector<double>()[12345], 0.01 / (std::sqrt(10.0) + 1e-6), 1e-9);
}

TEST(ClipGradNorm, RejectsInvalidArguments) {
  const std::vector<Tensor> params = clip_params(DType::F32);
  expect_error([&] { optim::clip_grad_norm(params, -1.0); }, "clip_grad_norm: invalid max_norm -1 (must be >= 0)");
  expect_error([&] { optim::clip_grad_norm(params, 1.0, 0.0); },
               "clip_grad_norm: invalid norm_type 0 (must be > 0 or infinity)");
  expect_error([&] { optim::clip_grad_norm({Tensor()}, 1.0); }, "clip_grad_norm: parameter 0 is an undefined tensor");
}

}  // namespace
}  // namespace strata::test
