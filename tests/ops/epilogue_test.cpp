// Epilogues (strata::Epilogue): a convolution or batch norm with a residual, an activation and a
// pooling after it equals the separate ops in values and every gradient (the residual's included),
// on the reference kernels in double and on the fast backend in float, whichever steps its
// kernels take; a gradient check of the whole; and the names of the recorded ops.
#include "common/test_util.hpp"
#include "core/layout.hpp"
#include "ops/activation.hpp"

using namespace strata;
using namespace strata::test;

namespace {

struct EpilogueCase {
  const char* name;
  bool residual;
  std::optional<Activation> activation;
  std::optional<Pooling> pool;
};
void PrintTo(const EpilogueCase& c, std::ostream* os) { *os << c.name; }

Epilogue make_epilogue(const EpilogueCase& c, const Tensor& residual) {
  Epilogue e;
  if (c.residual) e.residual = residual;
  e.activation = c.activation;
  e.pool = c.pool;
  return e;
}

// The epilogue's steps as separate ops after y.
Tensor separate(const EpilogueCase& c, int nd, Tensor y, const Tensor& residual) {
  if (c.residual) y = y + residual;
  if (c.activation) y = activation(y, *c.activation);
  if (!c.pool) return y;
  const PoolOptions& o = c.pool->options;
  if (c.pool->mode == PoolMode::Max) return nd == 2 ? max_pool2d(y, o) : max_pool3d(y, o);
  return nd == 2 ? avg_pool2d(y, o) : avg_pool3d(y, o);
}

const Pooling kAvg2{PoolMode::Avg, {.kernel = 2}};
const Pooling kMax3{PoolMode::Max, {.kernel = 3, .stride = 2, .padding = 1}};

const EpilogueCase kCases[] = {
    {"activation", false, Activation::Tanh, std::nullopt},
    {"residual", true, std::nullopt, std::nullopt},
    {"residual_relu", true, Activation::Relu, std::nullopt},
    {"residual_sigmoid_avg", true, Activation::Sigmoid, kAvg2},
    {"sigmoid_avg", false, Activation::Sigmoid, kAvg2},
    {"avg", false, std::nullopt, kAvg2},
    {"tanh_max", false, Activation::Tanh, kMax3},
    {"residual_relu_max", true, Activation::Relu, kMax3},
    {"relu6", false, Activation::Relu6, std::nullopt},
    {"residual_relu6_avg", true, Activation::Relu6, kAvg2},
    {"leaky_relu_avg", false, Activation::leaky_relu(0.1), kAvg2},
    {"residual_hardsigmoid", true, Activation::hard_sigmoid(), std::nullopt},
    {"hardswish", false, Activation::HardSwish, std::nullopt},  // recording gradients: run apart
    {"residual_hardswish_max", true, Activation::HardSwish, kMax3},
    {"clamp_max", false, Activation::clamp(-0.5, 0.7), kMax3},
};

struct Outputs {
  Tensor y;
  std::vector<Tensor> grads;
};

// fn on fresh leaves of `inputs`, then the gradients of sum(y * r) for a fixed r.
Outputs run(const std::function<Tensor(const std::vector<Tensor>&)>& fn, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(requires_grad(t.detach().clone()));
  Outputs o;
  o.y = fn(leaves);
  (o.y * random(o.y.shape(), 77, o.y.dtype())).sum().backward();
  o.y = to_layout(o.y.detach(), Layout::Strided);
  for (const Tensor& t : leaves) o.grads.push_back(t.grad().defined() ? to_layout(t.grad(), Layout::Strided) : Tensor());
  return o;
}

void expect_same(const Outputs& a, const Outputs& b, double tol) {
  ASSERT_EQ(a.y.shape(), b.y.shape());
  expect_close(a.y, b.y, tol);
  for (std::size_t i = 0; i < a.grads.size(); ++i) {
    SCOPED_TRACE("gradient of input " + std::to_string(i));
    expect_close(a.grads[i], b.grads[i], tol);
  }
}

std::vector<Backend> backends() {
  std::vector<Backend> b{Backend::Ref};
  if (backend_available(Backend::Dnnl)) b.push_back(Backend::Dnnl);
  return b;
}

}  // namespace

class ConvEpilogue : public ::testing::TestWithParam<EpilogueCase> {};

// 2-D convolutions that the few-channel kernels take (6 -> 6 channels, stride 1), that oneDNN
// takes (16 -> 16), and a 3-D one.
TEST_P(ConvEpilogue, EqualsTheSeparateOps) {
  const EpilogueCase& c = GetParam();
  struct Geometry {
    Shape x, w;
    ConvOptions options;
  };
  for (const Geometry& geo : {Geometry{{2, 6, 8, 8}, {6, 6, 3, 3}, {.padding = 1}},
                              Geometry{{2, 16, 6, 6}, {16, 16, 3, 3}, {.padding = 1}},
                              Geometry{{1, 3, 4, 6, 6}, {4, 3, 3, 3, 3}, {.padding = 1}}}) {
    const int nd = geo.x.ndim() - 2;
    if (nd == 3 && c.pool && c.pool->mode == PoolMode::Avg && c.pool->options.kernel[0] == 2 && geo.x[2] % 2) continue;
    auto conv = [&](const Tensor& x, const Tensor& w, const Tensor& b, const Epilogue& e) {
      return nd == 2 ? conv2d(x, w, b, geo.options, e) : conv3d(x, w, b, geo.options, e);
    };
    Shape y_shape = geo.x;
    y_shape[1] = geo.w[0];
    for (Backend backend : backends()) {
      BackendGuard guard(backend);
      const DType dtype = backend == Backend::Ref ? DType::F64 : DType::F32;
      SCOPED_TRACE(::testing::Message() << "x " << geo.x << " on " << backend_name(backend));
      const std::vector<Tensor> inputs{random(geo.x, 1, dtype), random(geo.w, 2, dtype), random({geo.w[0]}, 3, dtype),
                                       random(y_shape, 4, dtype)};
      const Outputs fused = run(
          [&](const std::vector<Tensor>& in) { return conv(in[0], in[1], in[2], make_epilogue(c, in[3])); }, inputs);
      const Outputs apart = run(
          [&](const std::vector<Tensor>& in) { return separate(c, nd, conv(in[0], in[1], in[2], {}), in[3]); },
          inputs);
      ASSERT_EQ(fused.grads[3].defined(), c.residual);
      if (!c.residual) {
        Outputs a = fused, b = apart;
        a.grads.pop_back();
        b.grads.pop_back();
        expect_same(a, b, dtype == DType::F64 ? 1e-12 : 1e-5);
      } else {
        expect_same(fused, apart, dtype == DType::F64 ? 1e-12 : 1e-5);
      }
    }
  }
}

TEST_P(ConvEpilogue, GradientsCheck) {
  const EpilogueCase& c = GetParam();
  BackendGuard guard(Backend::Ref);
  expect_gradients(
      [&](const std::vector<Tensor>& in) {
        return conv2d(in[0], in[1], in[2], {.padding = 1}, make_epilogue(c, in[3]));
      },
      {requires_grad(distinct({1, 2, 6, 6}, 1, 0.05)), requires_grad(random({3, 2, 3, 3}, 2)),
       requires_grad(random({3}, 3)), requires_grad(random({1, 3, 6, 6}, 4))});
}

class BatchNormEpilogue : public ::testing::TestWithParam<EpilogueCase> {};

// Plain few-channel input (the fast backend's own kernels), blocked 16-channel input (oneDNN's),
// in training and in evaluation.
TEST_P(BatchNormEpilogue, EqualsTheSeparateOps) {
  const EpilogueCase& c = GetParam();
  for (const bool training : {true, false})
    for (const Shape& xs : {Shape{3, 6, 8, 8}, Shape{2, 16, 6, 6}})
      for (Backend backend : backends()) {
        BackendGuard guard(backend);
        const DType dtype = backend == Backend::Ref ? DType::F64 : DType::F32;
        SCOPED_TRACE(::testing::Message() << "x " << xs << (training ? " training" : " eval") << " on "
                                          << backend_name(backend));
        const int64_t C = xs[1];
        const std::vector<Tensor> inputs{random(xs, 1, dtype) * 2.0 + 0.5, random({C}, 2, dtype) + 1.5,
                                         random({C}, 3, dtype), random(xs, 4, dtype)};
        Tensor stats[2][2];
        auto bn = [&](int i, const Tensor& x, const std::vector<Tensor>& in, const Epilogue& e) {
          stats[i][0] = random({C}, 5, dtype);
          stats[i][1] = random({C}, 6, dtype) + 2.0;
          const Tensor xx = xs[1] == 16 && backend == Backend::Dnnl ? to_layout(x, Layout::Blocked16) : x;
          return batch_norm(xx, in[1], in[2], stats[i][0], stats[i][1], training, 0.1, 1e-5, e);
        };
        const Outputs fused =
            run([&](const std::vector<Tensor>& in) { return bn(0, in[0], in, make_epilogue(c, in[3])); }, inputs);
        const Outputs apart =
            run([&](const std::vector<Tensor>& in) { return separate(c, 2, bn(1, in[0], in, {}), in[3]); }, inputs);
        Outputs a = fused, b = apart;
        if (!c.residual) {
          a.grads.pop_back();
          b.grads.pop_back();
        }
        expect_same(a, b, dtype == DType::F64 ? 1e-12 : 2e-5);
        for (int i = 0; i < 2; ++i) expect_close(stats[0][i], stats[1][i], 1e-6);
      }
}

TEST_P(BatchNormEpilogue, GradientsCheck) {
  const EpilogueCase& c = GetParam();
  BackendGuard guard(Backend::Ref);
  expect_gradients(
      [&](const std::vector<Tensor>& in) {
        return batch_norm(in[0], in[1], in[2], {}, {}, true, 0.1, 1e-3, make_epilogue(c, in[3]));
      },
      {requires_grad(distinct({2, 3, 6, 6}, 1, 0.05)), requires_grad(random({3}, 2) + 1.5),
       requires_grad(random({3}, 3)), requires_grad(random({2, 3, 6, 6}, 4))});
}

INSTANTIATE_TEST_SUITE_P(Table, ConvEpilogue, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });
INSTANTIATE_TEST_SUITE_P(Table, BatchNormEpilogue, ::testing::ValuesIn(kCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The op a kernel runs whole is recorded under the name of every step it took; steps no kernel
// takes are their own ops.
TEST(EpilogueNames, NameTheStepsTakenTogether) {
  const Tensor x = requires_grad(random({2, 16, 6, 6}, 1, DType::F32)), w = random({16, 16, 3, 3}, 2, DType::F32);
  Epilogue e(Activation::Relu);
  e.residual = random({2, 16, 6, 6}, 3, DType::F32);
  {
    BackendGuard guard(Backend::Ref);  // the reference convolution takes an activation only
    EXPECT_EQ(conv2d(x, w, {}, {.padding = 1}, e).grad_fn()->name(), "add_relu");
    EXPECT_EQ(conv2d(x, w, {}, {.padding = 1}, Activation::Tanh).grad_fn()->name(), "conv2d_tanh");
  }
  if (backend_available(Backend::Dnnl)) {
    BackendGuard guard(Backend::Dnnl);  // oneDNN's: the residual and the activation as post-ops
    EXPECT_EQ(conv2d(x, w, {}, {.padding = 1}, e).grad_fn()->name(), "conv2d_add_relu");
    e.pool = kMax3;
    EXPECT_EQ(conv2d(x, w, {}, {.padding = 1}, e).grad_fn()->name(), "max_pool2d");
  }
}

// Hard-swish's derivative reads its input: where gradients are recorded the op keeps the sum and
// runs the activation apart; without them a kernel takes the whole epilogue.
TEST(EpilogueNames, HardSwishRunsApartOnlyWhenRecordingGradients) {
  const Tensor x0 = random({2, 16, 6, 6}, 1, DType::F32), w = random({16, 16, 3, 3}, 2, DType::F32);
  const Tensor residual = random({2, 16, 6, 6}, 3, DType::F32);
  Epilogue e(Activation::HardSwish);
  e.residual = residual;
  const Tensor x = requires_grad(x0.clone());
  const Tensor recorded = conv2d(x, w, {}, {.padding = 1}, e);
  EXPECT_EQ(recorded.grad_fn()->name(), "hardswish");
  const Tensor inference = conv2d(x0, w, {}, {.padding = 1}, e);
  EXPECT_TRUE(inference.is_leaf());
  expect_close(to_layout(inference, Layout::Strided), to_layout(recorded.detach(), Layout::Strided), 1e-6);
  expect_close(to_layout(inference, Layout::Strided),
               to_layout(hardswish(conv2d(x0, w, {}, {.padding = 1}) + residual), Layout::Strided), 1e-6);
}
