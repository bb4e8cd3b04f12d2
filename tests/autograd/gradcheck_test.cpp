// Gradient checks in double precision for every differentiable core op, and checks that
// gradcheck itself catches wrong gradients and recognises kinks.
#include <cmath>

#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Case {
  const char* name;
  Fn fn;
  std::vector<Tensor> inputs;
};

Tensor rg(const Shape& shape, uint64_t seed, double low = -1.0, double high = 1.0) {
  return requires_grad(random(shape, seed, DType::F64, low, high));
}

// Positive inputs for log, sqrt, fractional powers and division.
Tensor pos(const Shape& shape, uint64_t seed) { return rg(shape, seed, 0.5, 2.0); }

void run(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    expect_gradients(c.fn, c.inputs);
  }
}

}  // namespace

TEST(Gradcheck, BinaryOpsWithBroadcasting) {
  const std::pair<Shape, Shape> shapes[] = {
      {{2, 3}, {2, 3}}, {{3, 1}, {1, 4}}, {{2, 3}, {3}}, {{}, {2, 3}}, {{2, 1, 3}, {4, 1}},
  };
  std::vector<Case> cases;
  uint64_t seed = 10;
  for (const auto& [sa, sb] : shapes) {
    cases.push_back({"add", [](auto& in) { return in[0] + in[1]; }, {rg(sa, seed++), rg(sb, seed++)}});
    cases.push_back({"sub", [](auto& in) { return in[0] - in[1]; }, {rg(sa, seed++), rg(sb, seed++)}});
    cases.push_back({"mul", [](auto& in) { return in[0] * in[1]; }, {rg(sa, seed++), rg(sb, seed++)}});
    cases.push_back({"div", [](auto& in) { return in[0] / in[1]; }, {rg(sa, seed++), pos(sb, seed++)}});
  }
  // Only one side requires grad.
  cases.push_back({"mul, right constant", [](auto& in) { return in[0] * in[1]; },
                   {rg({2, 3}, 40), random({3}, 41)}});
  cases.push_back({"div, left constant", [](auto& in) { return in[0] / in[1]; },
                   {random({3, 1}, 42), pos({1, 4}, 43)}});
  run(cases);
}

TEST(Gradcheck, ScalarAndUnaryOps) {
  run({
      {"x + s", [](auto& in) { return in[0] + 2.5; }, {rg({2, 3}, 1)}},
      {"s + x", [](auto& in) { return 2.5 + in[0]; }, {rg({2, 3}, 2)}},
      {"x - s", [](auto& in) { return in[0] - 1.5; }, {rg({2, 3}, 3)}},
      {"s - x", [](auto& in) { return 1.5 - in[0]; }, {rg({2, 3}, 4)}},
      {"x * s", [](auto& in) { return in[0] * -3.0; }, {rg({2, 3}, 5)}},
      {"s * x", [](auto& in) { return 0.5 * in[0]; }, {rg({2, 3}, 6)}},
      {"x / s", [](auto& in) { return in[0] / 4.0; }, {rg({2, 3}, 7)}},
      {"s / x", [](auto& in) { return 3.0 / in[0]; }, {pos({2, 3}, 8)}},
      {"neg", [](auto& in) { return -in[0]; }, {rg({2, 3}, 9)}},
      {"exp", [](auto& in) { return in[0].exp(); }, {rg({2, 3}, 10)}},
      {"log", [](auto& in) { return in[0].log(); }, {pos({2, 3}, 11)}},
      {"sqrt", [](auto& in) { return in[0].sqrt(); }, {pos({2, 3}, 12)}},
      {"pow 2", [](auto& in) { return in[0].pow(2); }, {rg({2, 3}, 13)}},
      {"pow 3", [](auto& in) { return in[0].pow(3); }, {rg({2, 3}, 14)}},
      {"pow 0.5", [](auto& in) { return in[0].pow(0.5); }, {pos({2, 3}, 15)}},
      {"pow -1.5", [](auto& in) { return in[0].pow(-1.5); }, {pos({2, 3}, 16)}},
      {"abs", [](auto& in) { return in[0].abs(); }, {requires_grad(distinct({2, 3}, 17, 0.3))}},
      {"chain", [](auto& in) { return ((in[0] * in[0]).exp() + 1.0).log().sqrt(); }, {rg({4}, 18)}},
  });
}

TEST(Gradcheck, PowZeroHasAZeroGradientEverywhere) {
  Tensor x = requires_grad(from_data(std::span<const double>(std::vector<double>{0.0, 2.0})));
  x.pow(0).sum().backward();
  expect_near(x.grad(), {2}, {0, 0}, 0);
}

TEST(Gradcheck, Reductions) {
  run({
      {"sum", [](auto& in) { return in[0].sum(); }, {rg({2, 3, 4}, 1)}},
      {"sum dim", [](auto& in) { return in[0].sum({1}); }, {rg({2, 3, 4}, 2)}},
      {"sum dims keepdim", [](auto& in) { return in[0].sum({0, -1}, true); }, {rg({2, 3, 4}, 3)}},
      {"sum of a transposed input", [](auto& in) { return in[0].transpose(0, 2).sum({0}); }, {rg({2, 3, 4}, 4)}},
      {"mean", [](auto& in) { return in[0].mean(); }, {rg({2, 3, 4}, 5)}},
      {"mean dims", [](auto& in) { return in[0].mean({0, 2}); }, {rg({2, 3, 4}, 6)}},
      {"mean keepdim", [](auto& in) { return in[0].mean({1}, true); }, {rg({2, 3, 4}, 7)}},
      {"max", [](auto& in) { return in[0].max(); }, {requires_grad(distinct({2, 3, 4}, 8))}},
      {"max dim 0", [](auto& in) { return in[0].max(0); }, {requires_grad(distinct({2, 3, 4}, 9))}},
      {"max dim 1 keepdim", [](auto& in) { return in[0].max(1, true); }, {requires_grad(distinct({2, 3, 4}, 10))}},
      {"max dim -1", [](auto& in) { return in[0].max(-1); }, {requires_grad(distinct({2, 3, 4}, 11))}},
      {"scalar sum", [](auto& in) { return in[0].sum({0}); }, {rg({}, 12)}},
  });
}

TEST(Gradcheck, Matmul) {
  const std::pair<Shape, Shape> shapes[] = {
      {{3}, {3}},          {{2, 3}, {3}},       {{3}, {3, 4}},          {{2, 3}, {3, 4}},
      {{2, 2, 3}, {2, 3, 4}}, {{2, 2, 3}, {3, 4}}, {{3}, {2, 3, 4}},       {{2, 1, 2, 3}, {3, 3, 2}},
      {{2, 2, 3}, {3}},    {{1, 4, 3}, {5, 3, 2}},
  };
  std::vector<Case> cases;
  uint64_t seed = 100;
  for (const auto& [sa, sb] : shapes)
    cases.push_back({"matmul", [](auto& in) { return matmul(in[0], in[1]); }, {rg(sa, seed++), rg(sb, seed++)}});
  cases.push_back({"matmul of transposed operands",
                   [](auto& in) { return matmul(in[0].transpose(0, 1), in[1].transpose(0, 1)); },
                   {rg({3, 2}, 120), rg({4, 3}, 121)}});
  cases.push_back({"matmul, only the right needs grad", [](auto& in) { return matmul(in[0], in[1]); },
                   {random({2, 3}, 122), rg({3, 2}, 123)}});
  run(cases);
}

TEST(Gradcheck, ViewsAndCopies) {
  run({
      {"view", [](auto& in) { return in[0].view({3, -1}) * in[1]; }, {rg({2, 6}, 1), rg({3, 4}, 2)}},
      {"reshape of a transposed input (a copy)", [](auto& in) { return in[0].transpose(0, 1).reshape({6}) * in[1]; },
       {rg({2, 3}, 3), rg({6}, 4)}},
      {"permute", [](auto& in) { return in[0].permute({2, 0, 1}) * in[1]; }, {rg({2, 3, 4}, 5), rg({4, 2, 3}, 6)}},
      {"transpose", [](auto& in) { return in[0].transpose(0, 1); }, {rg({2, 3}, 7)}},
      {"slice", [](auto& in) { return in[0].slice(1, -4, 5, 2) * 2.0; }, {rg({3, 6}, 8)}},
      {"slice of a slice", [](auto& in) { return in[0].slice(0, 1, 3).slice(1, 0, 2); }, {rg({4, 3}, 9)}},
      {"unsqueeze/squeeze", [](auto& in) { return in[0].unsqueeze(1).squeeze(1).unsqueeze(-1); }, {rg({2, 3}, 10)}},
      {"flatten", [](auto& in) { return in[0].flatten(1) * in[1]; }, {rg({2, 3, 2}, 11), rg({6}, 12)}},
      {"expand", [](auto& in) { return in[0].expand({2, 3, 4}) * in[1]; }, {rg({3, 1}, 13), rg({2, 3, 4}, 14)}},
      {"cat dim 0", [](auto& in) { return cat({in[0], in[1], in[0]}, 0); }, {rg({2, 3}, 15), rg({1, 3}, 16)}},
      {"cat dim -1", [](auto& in) { return cat({in[0], in[1]}, -1) * 3.0; }, {rg({2, 2}, 17), rg({2, 3}, 18)}},
      {"cat with a constant", [](auto& in) { return cat({in[0], in[1]}, 1); }, {rg({2, 2}, 19), random({2, 1}, 20)}},
      {"clone", [](auto& in) { return in[0].clone() * in[0]; }, {rg({2, 3}, 21)}},
      {"contiguous", [](auto& in) { return in[0].transpose(0, 1).contiguous(); }, {rg({2, 3}, 22)}},
  });
  // to(): the f32 round trip limits the precision of the numeric side.
  GradcheckOptions loose;
  loose.eps = 1e-3;
  loose.atol = 1e-4;
  loose.rtol = 1e-3;
  expect_gradients([](auto& in) { return (in[0].to(DType::F32) * 2.0).to(DType::F64); }, {rg({2, 3}, 23)}, loose);
}

// ---- gradcheck's own behaviour ----

namespace {

// x^2 whose backward claims 3x: wrong.
Tensor wrong_square(const Tensor& x) {
  Tensor y;
  {
    NoGradGuard no_grad;
    y = x * x;
  }
  autograd::record("wrong_square", y, {x}, [x = x.detach()](const Tensor& gy, const autograd::Node&) {
    return std::vector<Tensor>{gy * x * 3.0};
  });
  return y;
}

}  // namespace

TEST(GradcheckItself, DetectsAWrongGradient) {
  const GradcheckResult r = gradcheck([](auto& in) { return wrong_square(in[0]); }, {rg({3}, 1)});
  EXPECT_FALSE(r.ok);
  EXPECT_GT(r.checked, 0);
  EXPECT_GT(r.max_abs_error, 0.1);
  EXPECT_NE(r.message.find("gradcheck: input 0 element 0: analytic"), std::string::npos) << r.message;
}

TEST(GradcheckItself, DetectsAMissingGradient) {
  // The op forgets its second input's gradient.
  auto fn = [](const std::vector<Tensor>& in) {
    Tensor y;
    {
      NoGradGuard no_grad;
      y = in[0] * in[1];
    }
    autograd::record("half", y, {in[0], in[1]}, [b = in[1].detach()](const Tensor& gy, const autograd::Node&) {
      return std::vector<Tensor>{gy * b, Tensor()};
    });
    return y;
  };
  const GradcheckResult r = gradcheck(fn, {rg({2}, 2), rg({2}, 3)});
  EXPECT_FALSE(r.ok);
  EXPECT_NE(r.message.find("input 1"), std::string::npos) << r.message;
}

TEST(GradcheckItself, SkipsKinksButChecksTheRest) {
  Tensor x = requires_grad(from_data(std::span<const double>(std::vector<double>{-1.0, 0.0, 0.5, 0.0})));
  const GradcheckResult r = gradcheck([](auto& in) { return in[0].abs().sum(); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.skipped_kinks, 2);
  EXPECT_EQ(r.checked, 2);
}

TEST(GradcheckItself, StationaryPointsAreNotKinks) {
  // x^2 at 0 and cos-like curvature: smooth, with a zero derivative.
  Tensor x = requires_grad(from_data(std::span<const double>(std::vector<double>{0.0, 1e-4, -3e-4})));
  const GradcheckResult r = gradcheck([](auto& in) { return (in[0] * in[0]).sum(); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.skipped_kinks, 0);
  EXPECT_EQ(r.checked, 3);
  // Strong curvature away from a stationary point.
  const GradcheckResult e = gradcheck([](auto& in) { return (in[0] * 5.0).exp().sum(); }, {rg({4}, 4)});
  EXPECT_TRUE(e.ok) << e.message;
  EXPECT_EQ(e.skipped_kinks, 0);
}

TEST(GradcheckItself, OutputWithoutGradientIsReported) {
  const GradcheckResult r = gradcheck([](auto& in) { return in[0].detach() * 2.0; }, {rg({2}, 5)});
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.message, "gradcheck: the output does not depend on any input that requires grad");
}

TEST(GradcheckItself, LeavesTheCallersInputsAlone) {
  Tensor x = rg({3}, 6);
  const std::vector<double> before = x.to_vector<double>();
  const GradcheckResult r = gradcheck([](auto& in) { return in[0].exp(); }, {x});
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(x.to_vector<double>(), before);
  EXPECT_FALSE(x.grad().defined());
}

TEST(GradcheckItself, WorksInSinglePrecisionWithLooserTolerances) {
  GradcheckOptions f32;
  f32.eps = 1e-3;
  f32.atol = 1e-3;
  f32.rtol = 1e-2;
  Tensor x = requires_grad(random({2, 3}, 7, DType::F32)), w = requires_grad(random({3, 2}, 8, DType::F32));
  const GradcheckResult r = gradcheck([](auto& in) { return matmul(in[0], in[1]).exp(); }, {x, w}, f32);
  EXPECT_TRUE(r.ok) << r.message;
  EXPECT_EQ(r.checked, 12);
}
