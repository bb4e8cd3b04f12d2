// The fast CPU backend (oneDNN) against the reference kernels: forward and every gradient, on a
// table of shapes per op (odd sizes, stride, padding, dilation, groups, batch 1, 3-D, channels that
// are and are not multiples of 16, so both the blocked and the plain layouts run), and chains of
// ops that pass blocked activations from layer to layer. Rows are skipped, not failed, in a build
// without oneDNN.
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <span>

#include "common/test_util.hpp"
#include "core/layout.hpp"
#include "ops/activation.hpp"
#include "ops/epilogue.hpp"
#ifdef STRATA_WITH_DNNL
#include "kernels/cpu/few_positions_conv.hpp"
#include "kernels/cpu/stem_conv.hpp"
#include "kernels/cpu/winograd_conv.hpp"
#include "kernels/dnnl/conv.hpp"
#endif

using namespace strata;
using namespace strata::test;

namespace {

using Fn = std::function<Tensor(const std::vector<Tensor>&)>;

struct Run {
  Tensor y;
  std::vector<Tensor> grads;
};

// The autograd name of `op` with an epilogue of `activation` and `pool`: "conv2d_relu_max_pool2d".
std::string fused_name(const char* op, std::optional<Activation> activation, const char* pool) {
  std::string name = op;
  if (activation) name.append("_").append(activation_name(*activation));
  return name.append("_").append(pool);
}

// Forward, then backward of sum(y * r) for a fixed random r, on `backend`.
Run run(Backend backend, const Fn& fn, const std::vector<Tensor>& inputs) {
  BackendGuard guard(backend);
  std::vector<Tensor> leaves;
  for (const Tensor& t : inputs) leaves.push_back(t.defined() ? requires_grad(t.detach().clone()) : Tensor());
  Run r;
  r.y = fn(leaves);
  const Tensor weights = random(r.y.shape(), 99, DType::F32);
  (r.y * weights).sum().backward();
  r.y = r.y.detach().contiguous();
  for (const Tensor& t : leaves) r.grads.push_back(t.defined() ? t.grad() : Tensor());
  return r;
}

void expect_backends_agree(const Fn& fn, const std::vector<Tensor>& inputs, double tol = 1e-4) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const Run ref = run(Backend::Ref, fn, inputs), fast = run(Backend::Dnnl, fn, inputs);
  ASSERT_EQ(fast.y.shape(), ref.y.shape());
  EXPECT_LT(relative_error(fast.y, ref.y), tol) << "forward";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined()) continue;
    ASSERT_TRUE(fast.grads[i].defined() && ref.grads[i].defined()) << "input " << i;
    ASSERT_EQ(fast.grads[i].shape(), ref.grads[i].shape());
    EXPECT_LT(relative_error(fast.grads[i], ref.grads[i]), 10 * tol) << "gradient of input " << i;
  }
}

Tensor rnd(const Shape& s, uint64_t seed) { return random(s, seed, DType::F32); }

}  // namespace

// ---- Convolution ----

struct ConvRow {
  const char* name;
  Shape x, w;
  ConvOptions options;
  bool bias;
};
void PrintTo(const ConvRow& r, std::ostream* os) { *os << r.name; }
class ConvBackends : public ::testing::TestWithParam<ConvRow> {};

TEST_P(ConvBackends, Agree) {
  const ConvRow& c = GetParam();
  expect_backends_agree(
      [&](const std::vector<Tensor>& in) {
        return c.x.ndim() == 5 ? conv3d(in[0], in[1], in[2], c.options) : conv2d(in[0], in[1], in[2], c.options);
      },
      {rnd(c.x, 1), rnd(c.w, 2), c.bias ? rnd({c.w[0]}, 3) : Tensor()});
}

// The activation post-ops (oneDNN's eltwise post-op, or the few-channel kernels' own epilogue and
// fused backward, against the reference kernel's activation of each output).
TEST_P(ConvBackends, FusedActivationsAgree) {
  const ConvRow& c = GetParam();
  for (Activation kind : test::kActivations) {
    SCOPED_TRACE(activation_name(kind));
    expect_backends_agree(
        [&](const std::vector<Tensor>& in) {
          return c.x.ndim() == 5 ? conv3d(in[0], in[1], in[2], c.options, kind)
                                 : conv2d(in[0], in[1], in[2], c.options, kind);
        },
        {rnd(c.x, 1), rnd(c.w, 2), c.bias ? rnd({c.w[0]}, 3) : Tensor()});
  }
}

#ifdef STRATA_WITH_DNNL
namespace {

// An inference convolution (no gradient wanted) on oneDNN's backend with no activation and with
// each one, plus `residual` when defined, against the reference (relative error below 1e-4).
void expect_inference_conv_agrees(const Tensor& x, const Tensor& w, const Tensor& b, const ConvOptions& options,
                                  const Tensor& residual, const Shape& y_shape) {
  std::vector<std::optional<Activation>> activations{std::nullopt};
  activations.insert(activations.end(), std::begin(test::kActivations), std::end(test::kActivations));
  for (const std::optional<Activation>& act : activations) {
    SCOPED_TRACE(act ? activation_name(*act) : "no activation");
    Epilogue e;
    e.residual = residual;
    e.activation = act;
    Tensor y[2];
    for (Backend backend : {Backend::Ref, Backend::Dnnl}) {
      BackendGuard guard(backend);
      NoGradGuard no_grad;
      y[backend == Backend::Dnnl] = conv2d(x, w, b, options, e).contiguous();
    }
    EXPECT_EQ(y[1].shape(), y_shape);
    EXPECT_LT(relative_error(y[1], y[0]), 1e-4);
  }
}

// A call in the table of one of Strata's own inference convolutions.
struct InferenceConvRow {
  const char* name;
  Shape x, w;
  ConvOptions options;
  bool bias, residual, blocked_input;
};

// Each row reaches the kernel that `suits` selects at inference and not with a gradient wanted,
// and agrees with the reference with every epilogue. he_scaled: weights scaled as He's
// initialisation scales them, so that tanh and clamp do not flatten outputs of 10-20 (for a
// kernel whose rounding is relative to the largest pre-activation output, as Winograd's).
void expect_kernel_rows_agree(std::span<const InferenceConvRow> rows, bool (*suits)(const ConvGeom&), bool he_scaled) {
  for (const InferenceConvRow& r : rows) {
    SCOPED_TRACE(r.name);
    const ConvGeom g = ConvGeom::make("conv2d", 2, r.x, r.w, nullptr, r.options);
    ConvGeom inference = g;
    inference.inference = true;
    EXPECT_TRUE(suits(inference)) << "the case must reach the kernel";
    EXPECT_FALSE(suits(g)) << "training calls never do";
    const Tensor x = r.blocked_input ? to_layout(rnd(r.x, 1), Layout::Blocked16) : rnd(r.x, 1);
    const double fan_in = static_cast<double>(r.w.numel() / r.w[0]);
    const Tensor w = he_scaled ? rnd(r.w, 2) * (1.0 / std::sqrt(fan_in)) : rnd(r.w, 2);
    const Tensor b = r.bias ? rnd({r.w[0]}, 3) : Tensor();
    expect_inference_conv_agrees(x, w, b, r.options, r.residual ? rnd(g.y_shape(), 4) : Tensor(), g.y_shape());
  }
}

}  // namespace

// Inference (no gradient wanted): convolutions of few output positions run on the streaming
// kernel (kernels/cpu/few_positions_conv.hpp) with every epilogue it takes, against the reference.
TEST(ConvBackends, FewPositionsInferenceAgrees) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const InferenceConvRow rows[] = {
      {"resnet_last_stage", {1, 256, 3, 3}, {128, 256, 3, 3}, {.padding = 1}, true, true, true},
      {"stride2_two_images", {2, 128, 6, 6}, {256, 128, 3, 3}, {.stride = 2, .padding = 1}, false, true, true},
      {"pointwise_stride2", {1, 512, 6, 6}, {512, 512, 1, 1}, {.stride = 2}, true, false, true},
      {"five_by_five_64_positions", {4, 64, 4, 4}, {176, 64, 5, 5}, {.padding = 2}, true, false, false},
      {"odd_map_plain_input", {1, 240, 5, 3}, {128, 240, 3, 3}, {.padding = {0, 1}}, false, false, false},
      // 49 rows in tiles of 13 + 12 + 12 + 12; 9 panels of 16 output channels: a thread's odd one.
      {"seven_by_seven", {1, 256, 7, 7}, {144, 256, 3, 3}, {.padding = 1}, true, true, true},
  };
  expect_kernel_rows_agree(rows, cpu::few_positions_conv::suits, false);
  // Past 64 positions, below 1 MB of weights, and with a gradient wanted, oneDNN's kernels take it.
  ConvGeom big = ConvGeom::make("conv2d", 2, {1, 256, 9, 9}, {256, 256, 3, 3}, nullptr, {.padding = 1});
  ConvGeom small = ConvGeom::make("conv2d", 2, {1, 480, 6, 6}, {64, 480, 1, 1}, nullptr, {});
  big.inference = small.inference = true;
  EXPECT_FALSE(cpu::few_positions_conv::suits(big));
  EXPECT_FALSE(cpu::few_positions_conv::suits(small));
}

// Inference 3x3 and 5x5 convolutions of 64 channels and more (5x5 on maps of 10x10 and more): the
// F(4x4, 3x3) and F(2x2, 5x5) Winograd kernel (kernels/cpu/winograd_conv.hpp) with every epilogue
// it takes, against the reference: panels of 32 output channels and a last one of 16 (80
// channels), tiles cut at odd edges (4x4 tiles on 6-15 maps), padding 0 to 2, plain and blocked
// inputs; then weights written between two calls, and what it leaves to oneDNN.
TEST(ConvBackends, WinogradInferenceAgrees) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const InferenceConvRow rows[] = {
      {"nin_like_narrow_last_panel", {1, 64, 12, 12}, {80, 64, 5, 5}, {.padding = 2}, true, false, true},
      {"two_images_odd_map", {2, 64, 10, 11}, {64, 64, 5, 5}, {.padding = 2}, false, true, false},
      {"uneven_padding", {1, 64, 15, 14}, {64, 64, 5, 5}, {.padding = {1, 0}}, true, true, true},
      {"three_googlenet_like", {2, 64, 12, 12}, {80, 64, 3, 3}, {.padding = 1}, true, false, true},
      {"three_odd_map_unpadded", {1, 64, 15, 13}, {64, 64, 3, 3}, {}, false, true, false},
      {"three_uneven_padding", {3, 64, 12, 10}, {64, 64, 3, 3}, {.padding = {0, 1}}, true, true, true},
      {"three_six_by_six", {4, 64, 6, 6}, {64, 64, 3, 3}, {.padding = 1}, true, true, true},
  };
  // Winograd's rounding is about 1e-5 of the largest pre-activation output.
  expect_kernel_rows_agree(rows, cpu::winograd_conv::suits, true);
  // The transformed weights are kept while the weights do not change: a write between two calls
  // is seen by the second.
  for (int64_t r : {3, 5}) {
    SCOPED_TRACE(r);
    const Tensor x = to_layout(rnd({1, 64, 10, 10}, 5), Layout::Blocked16), w = rnd({64, 64, r, r}, 6);
    const ConvOptions same{.padding = r / 2};
    Tensor y[2];
    NoGradGuard no_grad;
    for (int call = 0; call < 2; ++call) {
      BackendGuard guard(Backend::Dnnl);
      if (call == 1) w.mutable_data<float>()[0] += 1.f;
      y[call] = conv2d(x, w, Tensor(), same).contiguous();
    }
    BackendGuard reference(Backend::Ref);
    EXPECT_LT(relative_error(y[1], conv2d(x, w, Tensor(), same).contiguous()), 1e-4);
    EXPECT_GT(relative_error(y[1], y[0]), 1e-3) << "the second call used the old weights";
  }
  // Few channels, a small map (5x5), stride 2, a pooling epilogue, other kernel sizes, and a 3x3
  // layer whose transformed weights would stream from memory for its few tiles go to oneDNN.
  ConvGeom few = ConvGeom::make("conv2d", 2, {1, 32, 12, 12}, {128, 32, 5, 5}, nullptr, {.padding = 2});
  ConvGeom small = ConvGeom::make("conv2d", 2, {4, 96, 8, 8}, {256, 96, 5, 5}, nullptr, {.padding = 2});
  ConvGeom strided = ConvGeom::make("conv2d", 2, {1, 96, 26, 26}, {256, 96, 5, 5}, nullptr, {.stride = 2});
  ConvGeom pooled = ConvGeom::make("conv2d", 2, {1, 96, 26, 26}, {256, 96, 3, 3}, nullptr, {.padding = 1});
  ConvGeom seven = ConvGeom::make("conv2d", 2, {1, 64, 24, 24}, {64, 64, 7, 7}, nullptr, {.padding = 3});
  ConvGeom heavy = ConvGeom::make("conv2d", 2, {1, 256, 14, 14}, {256, 256, 3, 3}, nullptr, {.padding = 1});
  pooled.epilogue.pool = PoolGeom{};
  for (ConvGeom* g : {&few, &small, &strided, &pooled, &seven, &heavy}) {
    g->inference = true;
    EXPECT_FALSE(cpu::winograd_conv::suits(*g)) << g->x_shape() << " " << g->weight_shape();
  }
  // The same 3x3 layer with four images has the tiles to pay for its weights.
  heavy = ConvGeom::make("conv2d", 2, {4, 256, 14, 14}, {256, 256, 3, 3}, nullptr, {.padding = 1});
  heavy.inference = true;
  EXPECT_TRUE(cpu::winograd_conv::suits(heavy));
}

// Inference below batch 4 on maps of 12x12 and more: oneDNN's Winograd kernel, asked for by name
// (oneDNN's own choice would be direct), with each epilogue, against the reference; and not where
// the direct kernel is the faster (6x6 maps, few channels) or a gradient is wanted. A suite of its
// own: oneDNN's kernels do not depend on STRATA_CPU_ISA, which ConvBackends run again under.
TEST(ConvWinograd, SmallBatchInferenceAgrees) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const struct {
    const char* name;
    Shape x, w;
    bool bias, residual;
  } rows[] = {
      {"twelve_by_twelve", {1, 32, 12, 12}, {48, 32, 3, 3}, true, false},
      {"residual_block", {1, 32, 16, 16}, {32, 32, 3, 3}, true, true},
      {"two_images_odd_map", {2, 32, 13, 12}, {48, 32, 3, 3}, false, true},
      {"sixteen_in", {1, 16, 24, 24}, {64, 16, 3, 3}, true, false},
  };
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    ConvGeom g = ConvGeom::make("conv2d", 2, r.x, r.w, nullptr, {.padding = 1});
    g.has_bias = r.bias;
    g.inference = true;
    EXPECT_NE(dnnl_backend::conv_forward_implementation(g).find("wino"), std::string::npos)
        << dnnl_backend::conv_forward_implementation(g);
    const Tensor x = to_layout(rnd(r.x, 1), Layout::Blocked16), w = rnd(r.w, 2);
    const Tensor b = r.bias ? rnd({r.w[0]}, 3) : Tensor();
    // Winograd's own rounding is about 1e-5 of the reference.
    expect_inference_conv_agrees(x, w, b, {.padding = 1}, r.residual ? rnd(g.y_shape(), 4) : Tensor(), g.y_shape());
  }
  ConvGeom six = ConvGeom::make("conv2d", 2, {1, 256, 6, 6}, {256, 256, 3, 3}, nullptr, {.padding = 1});
  ConvGeom few = ConvGeom::make("conv2d", 2, {1, 32, 24, 24}, {16, 32, 3, 3}, nullptr, {.padding = 1});
  ConvGeom training = ConvGeom::make("conv2d", 2, {1, 64, 24, 24}, {64, 64, 3, 3}, nullptr, {.padding = 1});
  six.inference = few.inference = true;
  for (const ConvGeom& g : {six, few, training})
    EXPECT_EQ(dnnl_backend::conv_forward_implementation(g).find("wino"), std::string::npos)
        << g.x_shape() << " " << g.weight_shape() << ": " << dnnl_backend::conv_forward_implementation(g);
}

// A network's first convolution (1-3 channels) with the max pooling after it, at inference: the
// stem kernel (kernels/cpu/stem_conv.hpp) with no activation and each one, against the reference's
// separate convolution, activation and pooling. The rows cover tiles of 4, 3, 2 and 1 blocks, one
// image in two bands of pooled rows and three images in six, padding, strides 1 to 4, ceil and
// floor windows (a last row and column no window reads), and windows of stride 1 (three pooled
// rows open at once). Then: a NaN wins its windows, a weight write between two calls is seen, and
// what the kernel leaves to oneDNN.
TEST(ConvBackends, StemConvolutionWithMaxPoolingAgrees) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const struct {
    const char* name;
    Shape x, w;
    ConvOptions conv;
    PoolOptions pool;
  } rows[] = {
      {"squeezenet_ceil", {1, 3, 31, 29}, {64, 3, 3, 3}, {.stride = 2}, {.kernel = 3, .stride = 2, .ceil_mode = true}},
      {"googlenet_padded", {3, 1, 26, 24}, {64, 1, 7, 7}, {.stride = 2, .padding = 3},
       {.kernel = 3, .stride = 2, .padding = 1}},
      {"alexnet_unread_row", {1, 1, 47, 45}, {48, 1, 11, 11}, {.stride = 4, .padding = 1}, {.kernel = 3, .stride = 2}},
      {"vgg_unread_column", {2, 1, 14, 21}, {32, 1, 3, 3}, {.padding = 1}, {.kernel = 2, .stride = 2}},
      {"stride1_windows", {1, 3, 12, 13}, {16, 3, 5, 5}, {.padding = 2}, {.kernel = 3, .stride = 1, .padding = 1}},
  };
  std::vector<std::optional<Activation>> activations{std::nullopt};
  activations.insert(activations.end(), std::begin(test::kActivations), std::end(test::kActivations));
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const Tensor x = rnd(r.x, 1), w = rnd(r.w, 2), b = rnd({r.w[0]}, 3);
    for (const std::optional<Activation>& act : activations) {
      SCOPED_TRACE(act ? activation_name(*act) : "no activation");
      Epilogue e;
      e.activation = act;
      e.pool = Pooling{PoolMode::Max, r.pool};
      ConvGeom g = ConvGeom::make("conv2d", 2, r.x, r.w, &b.shape(), r.conv);
      g.epilogue = EpilogueGeom::make("conv2d", 2, g.y_shape(), x, e);
      EXPECT_FALSE(cpu::stem_conv::suits(g)) << "training calls never reach it";
      g.inference = true;
      ASSERT_TRUE(cpu::stem_conv::suits(g)) << "the case must reach the kernel";
      Tensor y[2];
      for (Backend backend : {Backend::Ref, Backend::Dnnl}) {
        BackendGuard guard(backend);
        NoGradGuard no_grad;
        y[backend == Backend::Dnnl] = conv2d(x, w, b, r.conv, e).contiguous();
      }
      ASSERT_EQ(y[1].shape(), y[0].shape());
      EXPECT_LT(relative_error(y[1], y[0]), 1e-5);
    }
  }
  // A NaN input: every pooled output whose window reads a convolution output it reaches is NaN
  // (the reference's pooling keeps NaN, as PyTorch's), the others equal.
  Tensor x = rnd({1, 3, 31, 29}, 4);
  x.mutable_data<float>()[(1 * 31 + 12) * 29 + 9] = std::numeric_limits<float>::quiet_NaN();
  const Tensor w = rnd({64, 3, 3, 3}, 5), b = rnd({64}, 6);
  Epilogue e(Activation::Relu);
  e.pool = Pooling{PoolMode::Max, rows[0].pool};
  Tensor y[2];
  for (Backend backend : {Backend::Ref, Backend::Dnnl}) {
    BackendGuard guard(backend);
    NoGradGuard no_grad;
    y[backend == Backend::Dnnl] = conv2d(x, w, b, {.stride = 2}, e).contiguous();
  }
  int64_t nans = 0;
  for (int64_t i = 0; i < y[0].numel(); ++i) {
    const float ref = y[0].data<float>()[i], fast = y[1].data<float>()[i];
    ASSERT_EQ(std::isnan(fast), std::isnan(ref)) << "output " << i;
    nans += std::isnan(ref);
    if (!std::isnan(ref)) {
      EXPECT_NEAR(fast, ref, 1e-5 * (1 + std::fabs(ref))) << "output " << i;
    }
  }
  // The NaN at (12, 9) reaches convolution outputs (5..6, 4), which four pooled outputs read.
  EXPECT_EQ(nans, 64 * 4);
  // The packed weights are kept while the weights do not change: a write between calls is seen.
  const Tensor clean = rnd({1, 3, 31, 29}, 7);
  Tensor before, after;
  {
    NoGradGuard no_grad;
    BackendGuard fast(Backend::Dnnl);
    before = conv2d(clean, w, b, {.stride = 2}, e).contiguous();
    w.mutable_data<float>()[0] += 1.f;
    after = conv2d(clean, w, b, {.stride = 2}, e).contiguous();
  }
  {
    NoGradGuard no_grad;
    BackendGuard reference(Backend::Ref);
    EXPECT_LT(relative_error(after, conv2d(clean, w, b, {.stride = 2}, e).contiguous()), 1e-5);
  }
  EXPECT_GT(relative_error(after, before), 1e-3) << "the second call used the old weights";
  // Four input channels, channels out not in whole blocks, average pooling, a residual, and
  // windows five strides high go to oneDNN.
  auto geom = [](const Shape& xs, const Shape& ws, const Epilogue& ep, const ConvOptions& o) {
    ConvGeom g = ConvGeom::make("conv2d", 2, xs, ws, nullptr, o);
    g.inference = true;
    g.epilogue = EpilogueGeom::make("conv2d", 2, g.y_shape(), rnd(xs, 8), ep);
    return g;
  };
  Epilogue avg, residual = e, tall;
  avg.pool = Pooling{PoolMode::Avg, {.kernel = 2}};
  residual.residual = rnd({1, 16, 16, 16}, 9);
  tall.pool = Pooling{PoolMode::Max, {.kernel = 5, .stride = 1, .padding = 2}};
  EXPECT_FALSE(cpu::stem_conv::suits(geom({1, 4, 33, 33}, {16, 4, 3, 3}, e, {.stride = 2})));
  EXPECT_FALSE(cpu::stem_conv::suits(geom({1, 3, 33, 33}, {24, 3, 3, 3}, e, {.stride = 2})));
  EXPECT_FALSE(cpu::stem_conv::suits(geom({1, 3, 32, 32}, {16, 3, 3, 3}, avg, {.padding = 1})));
  EXPECT_FALSE(cpu::stem_conv::suits(geom({1, 3, 16, 16}, {16, 3, 3, 3}, residual, {.padding = 1})));
  EXPECT_FALSE(cpu::stem_conv::suits(geom({1, 3, 16, 16}, {16, 3, 3, 3}, tall, {.padding = 1})));
}

// MobileNetV2's 24-channel stage at inference: a projection to 24 channels (oneDNN pads them to
// two 16-channel blocks; the result goes to a plain tensor) with a plain residual put into the
// padded blocks first, and an expansion reading a plain 24-channel input, against the reference.
TEST(ConvBackends, PaddedChannelBlocksAgree) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  for (int64_t n : {1, 2}) {
    SCOPED_TRACE(n);
    const Tensor wide = to_layout(rnd({n, 48, 9, 7}, 1), Layout::Blocked16), narrow = rnd({n, 24, 9, 7}, 2);
    expect_inference_conv_agrees(wide, rnd({24, 48, 1, 1}, 3), rnd({24}, 4), {}, rnd({n, 24, 9, 7}, 5), {n, 24, 9, 7});
    expect_inference_conv_agrees(narrow, rnd({48, 24, 1, 1}, 6), rnd({48}, 7), {}, Tensor(), {n, 48, 9, 7});
  }
}

// A 1x1 convolution with a depthwise 3x3 convolution in its epilogue (MobileNetV2's expansion):
// on oneDNN one fused kernel where it takes the pair (batch 1 at 112x112 with stride 2, batch 8
// with stride 1), the two convolutions elsewhere; equal to the reference's two ops at inference,
// and with gradients (the two ops, recorded) in values and gradients.
TEST(ConvBackends, DepthwiseEpilogueAgrees) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const struct {
    const char* name;
    Shape x;
    int64_t channels, stride;
    bool dw_bias, fuses;
    std::optional<Activation> activation, dw_activation;
  } rows[] = {{"mobilenet_features2", {1, 16, 112, 112}, 96, 2, true, true, Activation::Relu6, Activation::Relu6},
              {"batch8_stride1", {8, 32, 28, 28}, 144, 1, false, true, Activation::Relu, std::nullopt},
              {"odd_map_stride2", {2, 16, 13, 11}, 48, 2, true, false, std::nullopt, Activation::Relu6},
              {"batch1_stride1", {1, 32, 14, 14}, 64, 1, true, false, Activation::Relu6, Activation::Relu6}};
  for (const auto& r : rows) {
    SCOPED_TRACE(r.name);
    const Tensor x = to_layout(rnd(r.x, 1), Layout::Blocked16), w = rnd({r.channels, r.x[1], 1, 1}, 2),
                 b = rnd({r.channels}, 3), dw = rnd({r.channels, 1, 3, 3}, 4), dw_b = r.dw_bias ? rnd({r.channels}, 5) : Tensor();
    Epilogue e;
    e.activation = r.activation;
    e.depthwise = DepthwiseConv{dw, dw_b, r.stride, r.dw_activation};
    ConvGeom g = ConvGeom::make("conv2d", 2, r.x, w.shape(), &b.shape(), {});
    g.inference = true;
    g.epilogue = EpilogueGeom::make("conv2d", 2, g.y_shape(), x, e);
    EXPECT_EQ(dnnl_backend::conv_depthwise_fuses(g), r.fuses);
    Epilogue first;
    first.activation = r.activation;
    Tensor y[2];
    for (Backend backend : {Backend::Ref, Backend::Dnnl}) {
      BackendGuard guard(backend);
      NoGradGuard no_grad;
      y[backend == Backend::Dnnl] =
          to_layout(backend == Backend::Dnnl ? conv2d(x, w, b, {}, e) : depthwise_conv(conv2d(x, w, b, {}, first), *e.depthwise),
                    Layout::Strided);
    }
    EXPECT_EQ(y[1].shape(), g.epilogue.depthwise->y);
    EXPECT_LT(relative_error(y[1], y[0]), 1e-5);
  }
  // With gradients: the two ops, whose gradients reach the depthwise weights too.
  const Tensor x = rnd({2, 16, 9, 9}, 6), w = rnd({32, 16, 1, 1}, 7), dw = rnd({32, 1, 3, 3}, 8);
  const std::vector<Tensor> inputs{x, w, dw};
  const Fn fused = [](const std::vector<Tensor>& in) {
    Epilogue e(Activation::Relu6);
    e.depthwise = DepthwiseConv{in[2], Tensor(), 2, Activation::Relu6};
    return conv2d(in[0], in[1], {}, {}, e);
  };
  const Fn two_ops = [](const std::vector<Tensor>& in) {
    return depthwise_conv(conv2d(in[0], in[1], {}, {}, Activation::Relu6), DepthwiseConv{in[2], Tensor(), 2, Activation::Relu6});
  };
  const ::Run a = run(Backend::Dnnl, fused, inputs), c = run(Backend::Dnnl, two_ops, inputs);
  EXPECT_LT(relative_error(a.y, c.y), 1e-6);
  for (int i = 0; i < 3; ++i) EXPECT_LT(relative_error(a.grads[i], c.grads[i]), 1e-6) << "input " << i;
  expect_backends_agree(fused, inputs);
}

TEST(ConvBackends, DepthwiseEpilogueNamesBadArguments) {
  const Tensor x = rnd({1, 16, 6, 6}, 1), w = rnd({32, 16, 1, 1}, 2);
  Epilogue e;
  e.depthwise = DepthwiseConv{rnd({16, 1, 3, 3}, 3), Tensor(), 1, std::nullopt};
  test::expect_error([&] { conv2d(x, w, {}, {}, e); },
                     "conv2d: the epilogue's depthwise convolution needs a weight of shape [32,1,3,3] (one 3x3 filter per "
                     "channel of the output [1,32,6,6]), got [16,1,3,3]");
  e.depthwise = DepthwiseConv{rnd({32, 1, 3, 3}, 3), rnd({16}, 4), 1, std::nullopt};
  test::expect_error([&] { conv2d(x, w, {}, {}, e); }, "needs a bias of shape [32], got [16]");
  e.depthwise = DepthwiseConv{rnd({32, 1, 3, 3}, 3), Tensor(), 3, std::nullopt};
  test::expect_error([&] { conv2d(x, w, {}, {}, e); }, "has stride 1 or 2, got 3");
  e.depthwise->stride = 1;
  e.pool = Pooling{PoolMode::Max, {.kernel = 2}};
  test::expect_error([&] { conv2d(x, w, {}, {}, e); }, "a pooling or a depthwise convolution, not both");
}
#endif

// The few-channel kernels' one-pass backward when only some gradients are wanted (LeNet's first
// layer: no input gradient), against the reference.
TEST(ConvBackends, FusedBackwardOfSomeGradientsAgrees) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const Tensor x = rnd({3, 1, 12, 12}, 1), w = rnd({6, 1, 5, 5}, 2), b = rnd({6}, 3);
  for (int wanted = 1; wanted < 8; ++wanted) {
    std::vector<Tensor> grads[2];
    for (Backend backend : {Backend::Ref, Backend::Dnnl}) {
      BackendGuard guard(backend);
      const Tensor xi = wanted & 1 ? requires_grad(x.clone()) : x, wi = wanted & 2 ? requires_grad(w.clone()) : w,
                   bi = wanted & 4 ? requires_grad(b.clone()) : b;
      (conv2d(xi, wi, bi, {.padding = 2}, Activation::Sigmoid) * rnd({3, 6, 12, 12}, 4)).sum().backward();
      grads[backend == Backend::Dnnl].assign({xi.grad(), wi.grad(), bi.grad()});
    }
    for (int i = 0; i < 3; ++i) {
      ASSERT_EQ(grads[1][i].defined(), (wanted >> i & 1) != 0) << "wanted " << wanted << ", input " << i;
      if (grads[1][i].defined()) {
        EXPECT_LT(relative_error(grads[1][i], grads[0][i]), 1e-4) << wanted << " " << i;
      }
    }
  }
}

// A pooling in the convolution's epilogue: the few-channel kernels' one-pass convolution and 2x2
// average or max pooling (the LeNets' layers, every activation) against the reference's two ops,
// and against the fast backend's own two ops (the same arithmetic, so equal to rounding); other
// poolings run as the two ops.
TEST(ConvBackends, PooledAgrees) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const struct {
    Shape x, w;
    ConvOptions conv;
    PoolOptions pool;
    bool fused;
  } cases[] = {{{3, 1, 28, 28}, {6, 1, 5, 5}, {.padding = 2}, {.kernel = 2}, true},
               {{3, 6, 14, 14}, {16, 6, 5, 5}, {}, {.kernel = 2, .stride = 2}, true},
               {{3, 1, 28, 28}, {6, 1, 5, 5}, {}, {.kernel = 2}, true},
               {{2, 3, 9, 12}, {5, 3, 3, 3}, {.padding = 1}, {.kernel = 2, .ceil_mode = true}, false},
               {{2, 6, 9, 9}, {16, 6, 3, 3}, {}, {.kernel = 3, .stride = 2}, false},
               {{2, 6, 10, 10}, {16, 6, 3, 3}, {}, {.kernel = 2, .padding = 1}, false}};
  const std::optional<Activation> activations[] = {std::nullopt, Activation::Sigmoid, Activation::Relu,
                                                   Activation::Tanh, Activation::Relu6};
  for (const auto& c : cases)
    for (PoolMode mode : {PoolMode::Avg, PoolMode::Max})
      for (std::optional<Activation> act : activations) {
        const char* pool_name = mode == PoolMode::Max ? "max_pool2d" : "avg_pool2d";
        SCOPED_TRACE(::testing::Message() << "x " << c.x << " w " << c.w << " " << pool_name << " activation "
                                          << (act ? activation_name(*act) : "none"));
        const std::vector<Tensor> inputs{rnd(c.x, 1), rnd(c.w, 2), rnd({c.w[0]}, 3)};
        Epilogue epilogue;
        epilogue.activation = act;
        epilogue.pool = Pooling{mode, c.pool};
        const Fn fused = [&](const std::vector<Tensor>& in) { return conv2d(in[0], in[1], in[2], c.conv, epilogue); };
        Epilogue activation_only;
        activation_only.activation = act;
        const Fn two_ops = [&](const std::vector<Tensor>& in) {
          return pool_nd(2, conv2d(in[0], in[1], in[2], c.conv, activation_only), *epilogue.pool);
        };
        expect_backends_agree(fused, inputs);
        const ::Run a = run(Backend::Dnnl, fused, inputs), b = run(Backend::Dnnl, two_ops, inputs);
        EXPECT_LT(relative_error(a.y, b.y), 1e-6);
        for (int i = 0; i < 3; ++i) EXPECT_LT(relative_error(a.grads[i], b.grads[i]), 1e-6) << "input " << i;
        BackendGuard guard(Backend::Dnnl);
        const Tensor y = fused({requires_grad(inputs[0]), inputs[1], inputs[2]});
        const std::string name = fused_name("conv2d", act, pool_name);
        EXPECT_EQ(y.grad_fn()->name(), c.fused ? name : std::string(pool_name));
      }
}

TEST(ConvBackends, EpilogueNamesBadArguments) {
  const Tensor x = rnd({1, 1, 6, 6}, 1), w = rnd({2, 1, 5, 5}, 2);
  Epilogue pooled(Activation::Sigmoid);
  pooled.pool = Pooling{PoolMode::Avg, {.kernel = 3}};
  test::expect_error([&] { conv2d(x, w, {}, {}, pooled); },
                     "avg_pool2d: kernel 3x3 is larger than the padded input 2x2 (input [1,2,2,2]");
  test::expect_error([&] { conv2d(x, rnd({2, 3, 5, 5}, 2), {}, {}, pooled); },
                     "conv2d: input has 1 channels but weight expects 3");
  Epilogue residual;
  residual.residual = rnd({1, 2, 3, 2}, 3);
  test::expect_error([&] { conv2d(x, w, {}, {}, residual); },
                     "conv2d: the epilogue's residual has shape [1,2,3,2] but the output has shape [1,2,2,2]");
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConvBackends,
    ::testing::Values(
        ConvRow{"first_layer", {2, 1, 28, 28}, {6, 1, 5, 5}, {.padding = 2}, true},
        ConvRow{"lenet_conv2", {3, 6, 14, 14}, {16, 6, 5, 5}, {}, true},
        // 8x8 outputs: one vector's worth of columns per output channel, no padded columns.
        ConvRow{"lenet_bn_conv2", {3, 6, 12, 12}, {16, 6, 5, 5}, {}, true},
        ConvRow{"few_channels_dilated", {3, 5, 11, 9}, {7, 5, 3, 2}, {.padding = {2, 1}, .dilation = {1, 2}}, false},
        ConvRow{"sixteen_to_six", {2, 16, 7, 6}, {6, 16, 3, 3}, {.padding = 1}, true},
        ConvRow{"blocked_3x3", {2, 16, 9, 7}, {32, 16, 3, 3}, {.padding = 1}, true},
        ConvRow{"blocked_stride2", {1, 32, 11, 11}, {16, 32, 3, 3}, {.stride = 2, .padding = 1}, false},
        ConvRow{"one_by_one_stride2", {2, 32, 8, 8}, {64, 32, 1, 1}, {.stride = 2}, true},
        // 1x1 convolutions of blocked channels: 80, 96, 48 and 16 outputs (not multiples of 64),
        // 144 inputs (not of 128), 5x5 images, stride 2 along odd rows, 3-D, and batch 1.
        ConvRow{"pointwise_tiles_cross_images", {3, 32, 5, 5}, {80, 32, 1, 1}, {}, true},
        ConvRow{"pointwise_two_chunks", {2, 144, 4, 7}, {96, 144, 1, 1}, {}, true},
        ConvRow{"pointwise_three_blocks_stride2", {2, 16, 9, 7}, {48, 16, 1, 1}, {.stride = 2}, false},
        ConvRow{"pointwise_one_block", {1, 64, 6, 6}, {16, 64, 1, 1}, {}, true},
        ConvRow{"pointwise_3d", {2, 16, 3, 4, 5}, {32, 16, 1, 1, 1}, {.stride = {1, 2, 1}}, true},
        ConvRow{"odd_channels", {2, 3, 10, 9}, {5, 3, 3, 2}, {.stride = {2, 1}, .padding = {1, 0}}, true},
        ConvRow{"dilation", {1, 16, 12, 12}, {16, 16, 3, 3}, {.padding = 2, .dilation = 2}, true},
        ConvRow{"groups", {2, 32, 7, 7}, {32, 8, 3, 3}, {.padding = 1, .groups = 4}, true},
        ConvRow{"depthwise", {1, 16, 6, 6}, {16, 1, 3, 3}, {.padding = 1, .groups = 16}, false},
        ConvRow{"big_kernel_stride4", {1, 1, 35, 35}, {16, 1, 11, 11}, {.stride = 4, .padding = 1}, true},
        ConvRow{"floor_drops_rows", {1, 16, 8, 8}, {16, 16, 3, 3}, {.stride = 2}, true},
        ConvRow{"3d", {1, 16, 5, 6, 5}, {16, 16, 3, 3, 3}, {.stride = {1, 2, 1}, .padding = 1}, true},
        ConvRow{"3d_plain", {2, 2, 5, 5, 5}, {3, 2, 3, 3, 3}, {.stride = 2, .padding = 1}, true}),
    [](const auto& info) { return std::string(info.param.name); });

// ---- Pooling ----

struct PoolRow {
  const char* name;
  Shape x;
  bool max;
  PoolOptions options;
};
void PrintTo(const PoolRow& r, std::ostream* os) { *os << r.name; }
class PoolBackends : public ::testing::TestWithParam<PoolRow> {};

TEST_P(PoolBackends, Agree) {
  const PoolRow& p = GetParam();
  const bool three_d = p.x.ndim() == 5;
  expect_backends_agree(
      [&](const std::vector<Tensor>& in) {
        if (p.max) return three_d ? max_pool3d(in[0], p.options) : max_pool2d(in[0], p.options);
        return three_d ? avg_pool3d(in[0], p.options) : avg_pool2d(in[0], p.options);
      },
      {distinct(p.x, 5, 0.01, DType::F32)});
}

INSTANTIATE_TEST_SUITE_P(
    Table, PoolBackends,
    ::testing::Values(PoolRow{"max_3s2", {2, 16, 9, 9}, true, {.kernel = 3, .stride = 2}},
                      PoolRow{"max_3s2p1", {1, 32, 12, 12}, true, {.kernel = 3, .stride = 2, .padding = 1}},
                      PoolRow{"max_plain", {2, 3, 7, 6}, true, {.kernel = 2}},
                      PoolRow{"max_ceil", {1, 16, 7, 7}, true, {.kernel = 2, .ceil_mode = true}},
                      PoolRow{"avg_2", {2, 6, 28, 28}, false, {.kernel = 2}},
                      // Rows of 40 into 20: longer than LeNet's (at most 28 into 14).
                      PoolRow{"avg_2_wide", {2, 3, 4, 40}, false, {.kernel = 2}},
                      PoolRow{"avg_pad_include", {1, 16, 7, 7}, false, {.kernel = 3, .stride = 2, .padding = 1}},
                      PoolRow{"avg_pad_exclude", {1, 16, 7, 7}, false,
                              {.kernel = 3, .stride = 2, .padding = 1, .count_include_pad = false}},
                      PoolRow{"avg_ceil_past_padding", {1, 3, 5, 5}, false, {.kernel = 2, .ceil_mode = true}},
                      PoolRow{"max_3d", {1, 16, 5, 6, 7}, true, {.kernel = 3, .stride = 2, .padding = 1}},
                      PoolRow{"avg_3d", {2, 2, 4, 4, 4}, false, {.kernel = 2}},
                      // 2x2 windows tiling a plain input: Strata's plain kernels, max and average,
                      // 2-D (the first-edition LeNet's 24x24 maps) and 3-D of depth 1 at every depth.
                      PoolRow{"max_2_plain", {2, 6, 24, 24}, true, {.kernel = 2}},
                      PoolRow{"max_2_3d_by_depth", {2, 3, 3, 4, 6}, true, {.kernel = {1, 2, 2}}},
                      PoolRow{"avg_2_3d_by_depth", {2, 3, 3, 4, 6}, false, {.kernel = {1, 2, 2}}}),
    [](const auto& info) { return std::string(info.param.name); });

// Strata's 2x2 max pooling of plain inputs, on its own and in a batch norm's epilogue, breaks ties
// and propagates NaN as the reference does (tests/ops/pool_test.cpp): the first maximum in
// row-major order takes the gradient, a NaN takes the window.
TEST(PoolBackends, PlainTwoByTwoMaxTiesAndNaNAsTheReference) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Windows {top left, top right, bottom left, bottom right}: a four-way tie, a tie of the last two,
  // a NaN second, a NaN last, a maximum in each position, a NaN first, two NaNs. Ten in a row (20
  // input columns: whole vectors of columns and a rest), then the same ten in reverse order.
  const float windows[10][4] = {{1, 1, 1, 1}, {0, 2, 7, 7}, {5, nan, 1, 2}, {3, 3, 1, nan}, {1, 2, 3, 4},
                                {1, 9, 3, 4}, {1, 2, 9, 4}, {9, 2, 3, 4},   {nan, 1, 2, 3}, {2, 2, nan, nan}};
  std::vector<float> values(4 * 20);
  for (int row = 0; row < 2; ++row)
    for (int w = 0; w < 10; ++w) {
      const float* v = windows[row == 0 ? w : 9 - w];
      float* top = values.data() + 2 * row * 20 + 2 * w;
      top[0] = v[0], top[1] = v[1], top[20] = v[2], top[21] = v[3];
    }
  const Tensor x = from_data(std::span<const float>(values), {1, 1, 4, 20});
  const Pooling pool{PoolMode::Max, {.kernel = 2}};
  const Fn ops[] = {
      [&](const std::vector<Tensor>& in) { return max_pool2d(in[0], pool.options); },
      [&](const std::vector<Tensor>& in) {
        Epilogue e;
        e.pool = pool;
        return batch_norm(in[0], {}, {}, zeros({1}), ones({1}), false, 0.1, 1e-5, e);
      }};
  for (const Fn& op : ops) {
    const ::Run ref = run(Backend::Ref, op, {x}), fast = run(Backend::Dnnl, op, {x});
    const std::vector<float> y_ref = ref.y.to_vector<float>(), y_fast = fast.y.to_vector<float>();
    ASSERT_EQ(y_fast.size(), 20u);
    for (std::size_t i = 0; i < y_fast.size(); ++i)
      EXPECT_TRUE(y_fast[i] == y_ref[i] || (std::isnan(y_fast[i]) && std::isnan(y_ref[i]))) << i;
    const std::vector<float> g_ref = ref.grads[0].to_vector<float>(), g_fast = fast.grads[0].to_vector<float>();
    for (std::size_t i = 0; i < g_ref.size(); ++i) {
      EXPECT_EQ(g_fast[i] != 0.f, g_ref[i] != 0.f) << "the gradient of input " << i;
      EXPECT_NEAR(g_fast[i], g_ref[i], 1e-6) << i;
    }
  }
}

// Average pooling of a blocked input runs on oneDNN, of a plain one on Strata's plain-layout
// kernels (the table above); both against the reference.
TEST(PoolBackends, AvgOfBlockedInputAgrees) {
  for (const PoolOptions& o : {PoolOptions{.kernel = 2}, PoolOptions{.kernel = 3, .stride = 2, .padding = 1}})
    expect_backends_agree([&](const std::vector<Tensor>& in) { return avg_pool2d(to_layout(in[0], Layout::Blocked16), o); },
                          {distinct({2, 16, 8, 8}, 5, 0.01, DType::F32)});
}

// Pooling of blocked inputs whose windows oneDNN declines (a last row or column left unread: a
// negative right padding to oneDNN, as in AlexNet's and NiN's 3x3 stride-2 max pooling of 54x54 and
// 26x26 maps; an average window past the right padding): Strata's blocked kernel, against the
// reference, forward and backward, 2-D and 3-D, with ties.
TEST(PoolBackends, BlockedWindowsOneDnnDeclinesAgree) {
  struct Case {
    Shape x;
    bool max;
    PoolOptions options;
  };
  for (const Case& c : {Case{{2, 32, 10, 10}, true, {.kernel = 3, .stride = 2}},
                        Case{{1, 16, 26, 26}, true, {.kernel = 3, .stride = 2}},
                        Case{{1, 16, 5, 7, 9}, true, {.kernel = 3, .stride = 2}},
                        Case{{2, 16, 7, 7}, false, {.kernel = 2, .ceil_mode = true}},
                        Case{{1, 16, 10, 10}, false, {.kernel = 3, .stride = 2}}}) {
    SCOPED_TRACE(::testing::Message() << c.x << (c.max ? " max" : " avg"));
    const bool three_d = c.x.ndim() == 5;
    expect_backends_agree(
        [&](const std::vector<Tensor>& in) {
          const Tensor x = to_layout(in[0], Layout::Blocked16);
          if (c.max) return three_d ? max_pool3d(x, c.options) : max_pool2d(x, c.options);
          return three_d ? avg_pool3d(x, c.options) : avg_pool2d(x, c.options);
        },
        {distinct(c.x, 5, 0.01, DType::F32)});
  }
  // Ties: the first maximum of a window gets the gradient, as in the reference.
  expect_backends_agree(
      [&](const std::vector<Tensor>& in) { return max_pool2d(to_layout(in[0], Layout::Blocked16), {.kernel = 3, .stride = 2}); },
      {ones({1, 16, 6, 6})});
}

// Inference max pooling of blocked input: on kernels/cpu/separable_max_pool windows that keep the
// map's size (Inception's), overlapping stride-2 windows over 1 MiB or more (SqueezeNet's, with
// and without padding, ceil mode; just below 1 MiB or 32 columns they stay on oneDNN) and floor-mode windows that leave the last row or column unread
// (AlexNet's); on oneDNN small stride-2 maps and 2x2 windows. Equal to the reference to the bit,
// with a NaN on the separable kernel. With a gradient wanted the training kernels (workspace,
// backward) still agree.
TEST(PoolBackends, MaxInferenceEqualsTheReference) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const struct {
    Shape x;
    PoolOptions o;
    bool separable;
  } cases[] = {{{2, 32, 6, 6}, {.kernel = 3, .stride = 1, .padding = 1}, true},
               {{1, 16, 1, 1}, {.kernel = 3, .stride = 1, .padding = 1}, true},
               {{1, 48, 7, 5}, {.kernel = 5, .stride = 1, .padding = 2}, true},
               {{3, 16, 2, 9}, {.kernel = 3, .stride = 1, .padding = 1}, true},
               {{1, 16, 5, 4}, {.kernel = 1, .stride = 1}, true},
               {{1, 16, 11, 11}, {.kernel = 3, .stride = 2}, false},
               {{2, 32, 8, 8}, {.kernel = 3, .stride = 2, .padding = 1}, false},
               {{1, 16, 10, 7}, {.kernel = 3, .stride = 2, .ceil_mode = true}, false},
               {{1, 16, 6, 6}, {.kernel = 3, .stride = 2}, true},
               {{1, 16, 9, 8}, {.kernel = 3, .stride = 2}, true},
               {{2, 16, 111, 111}, {.kernel = 3, .stride = 2, .ceil_mode = true}, true},
               {{1, 16, 64, 256}, {.kernel = 3, .stride = 2, .padding = 1}, true},
               {{2, 16, 128, 31}, {.kernel = 3, .stride = 2, .padding = 1}, false},
               {{1, 16, 63, 256}, {.kernel = 3, .stride = 2, .padding = 1}, false},
               {{1, 32, 8, 6}, {.kernel = 2}, false}};
  for (const auto& c : cases) {
    SCOPED_TRACE(testing::Message() << c.x << " k" << c.o.kernel[0] << " s" << c.o.stride[0]);
    // A NaN only where the separable kernel runs: oneDNN's pooling does not carry one (the
    // reference does, as PyTorch).
    const bool same_size = c.separable;
    Tensor x = rnd(c.x, 8);
    if (same_size) x.mutable_data<float>()[1] = std::numeric_limits<float>::quiet_NaN();
    Tensor y[2];
    for (Backend backend : {Backend::Ref, Backend::Dnnl}) {
      BackendGuard guard(backend);
      NoGradGuard no_grad;
      y[backend == Backend::Dnnl] = to_layout(max_pool2d(to_layout(x, Layout::Blocked16), c.o), Layout::Strided);
    }
    ASSERT_EQ(y[1].shape(), y[0].shape());
    const std::vector<float> ref = y[0].to_vector<float>(), fast = y[1].to_vector<float>();
    int nans = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      ASSERT_TRUE(ref[i] == fast[i] || (std::isnan(ref[i]) && std::isnan(fast[i]))) << i << ": " << fast[i] << " vs " << ref[i];
      nans += std::isnan(fast[i]);
    }
    if (same_size) {
      EXPECT_GT(nans, 0) << "the NaN reached an output";
    }
    x.mutable_data<float>()[1] = 0.f;
    expect_backends_agree([&](const std::vector<Tensor>& in) { return max_pool2d(to_layout(in[0], Layout::Blocked16), c.o); },
                          {x});
  }
}

// Max pooling of a blocked input (what the models hand it; the table's inputs are plain), forward
// and backward against the reference.
TEST(PoolBackends, MaxOfBlockedInputAgrees) {
  const struct {
    Shape x;
    PoolOptions o;
  } cases[] = {{{2, 16, 9, 9}, {.kernel = 3, .stride = 2, .padding = 1}},
               {{1, 32, 8, 7}, {.kernel = 2}},
               {{1, 16, 7, 7}, {.kernel = 2, .ceil_mode = true}},
               {{1, 16, 5, 6, 7}, {.kernel = 3, .stride = 2, .padding = 1}}};
  for (const auto& c : cases)
    expect_backends_agree(
        [&](const std::vector<Tensor>& in) {
          const Tensor x = to_layout(in[0], Layout::Blocked16);
          return c.x.ndim() == 5 ? max_pool3d(x, c.o) : max_pool2d(x, c.o);
        },
        {distinct(c.x, 5, 0.01, DType::F32)});
}

TEST(AdaptivePoolBackends, Agree) {
  expect_backends_agree([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {1, 1}); },
                        {rnd({2, 32, 3, 3}, 6)});
  expect_backends_agree([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], {2, 3}); },
                        {rnd({1, 16, 4, 6}, 7)});
  expect_backends_agree([](const std::vector<Tensor>& in) { return adaptive_avg_pool2d(in[0], 3); },
                        {rnd({1, 16, 5, 5}, 8)});  // uneven bins: the reference kernel runs
  expect_backends_agree([](const std::vector<Tensor>& in) { return adaptive_avg_pool3d(in[0], {1, 1, 1}); },
                        {rnd({2, 16, 2, 3, 3}, 9)});
}

// ---- Batch normalization, activations, linear ----

struct NormRow {
  const char* name;
  Shape x;
  bool training;
  bool blocked = false;  // hand x over in oneDNN's blocked layout (else plain: Strided kernels run)
};
void PrintTo(const NormRow& r, std::ostream* os) { *os << r.name; }
class BatchNormBackends : public ::testing::TestWithParam<NormRow> {};

namespace {

using BatchNormOp = std::function<Tensor(const Tensor&, const Tensor&, const Tensor&, const Tensor&, const Tensor&,
                                          bool, double, double)>;

void expect_batch_norm_backends_agree(const NormRow& r, BatchNormOp op) {
  const int64_t c = r.x[1];
  const Tensor mean = rnd({c}, 20) * 0.1, var = rnd({c}, 21) * 0.2 + 1.0;
  expect_backends_agree(
      [&](const std::vector<Tensor>& in) {
        Tensor rm = mean.clone(), rv = var.clone();
        const Tensor x = r.blocked ? to_layout(in[0], Layout::Blocked16) : in[0];
        return op(x, in[1], in[2], rm, rv, r.training, 0.1, 1e-5);
      },
      {rnd(r.x, 10) * 2.0 + 0.5, rnd({c}, 11) + 1.0, rnd({c}, 12)});
}

}  // namespace

TEST_P(BatchNormBackends, Agree) {
  expect_batch_norm_backends_agree(GetParam(), [](const Tensor& x, const Tensor& w, const Tensor& b, const Tensor& rm,
                                                  const Tensor& rv, bool training, double momentum, double eps) {
    return batch_norm(x, w, b, rm, rv, training, momentum, eps);
  });
}

// The activation post-ops (oneDNN's fuse_norm_relu or an in-place eltwise pass; the plain
// kernels' own epilogue) against the reference kernel's activation of each output.
TEST_P(BatchNormBackends, FusedActivationsAgree) {
  for (Activation kind : test::kActivations) {
    SCOPED_TRACE(activation_name(kind));
    expect_batch_norm_backends_agree(GetParam(), [kind](const Tensor& x, const Tensor& w, const Tensor& b,
                                                        const Tensor& rm, const Tensor& rv, bool training,
                                                        double momentum, double eps) {
      return batch_norm(x, w, b, rm, rv, training, momentum, eps, kind);
    });
  }
}

INSTANTIATE_TEST_SUITE_P(Table, BatchNormBackends,
                         ::testing::Values(NormRow{"2d_blocked", {4, 16, 5, 5}, true, true},
                                           NormRow{"2d_plain16", {4, 16, 5, 5}, true},
                                           NormRow{"2d_plain", {3, 6, 7, 5}, true},
                                           NormRow{"plain_eval", {3, 6, 7, 5}, false},
                                           NormRow{"1d", {8, 12}, true}, NormRow{"1d_eval", {8, 12}, false},
                                           NormRow{"eval_blocked", {2, 32, 3, 3}, false, true},
                                           NormRow{"3d", {2, 16, 3, 4, 3}, true, true},
                                           NormRow{"3d_plain", {2, 5, 3, 4, 3}, true}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(BatchNormBackends, RunningStatisticsAgree) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const Tensor x = rnd({4, 16, 3, 3}, 30) * 3.0 + 1.0;
  for (const Layout layout : {Layout::Strided, Layout::Blocked16}) {  // Strata's plain kernels, oneDNN's
    Tensor rm[2] = {zeros({16}), zeros({16})}, rv[2] = {ones({16}), ones({16})};
    for (int i = 0; i < 2; ++i) {
      BackendGuard guard(i == 0 ? Backend::Ref : Backend::Dnnl);
      batch_norm(to_layout(x, layout), {}, {}, rm[i], rv[i], true, 0.1, 1e-5);
    }
    EXPECT_LT(relative_error(rm[1], rm[0]), 1e-5);
    EXPECT_LT(relative_error(rv[1], rv[0]), 1e-5);
  }
}

// A pooling in the batch norm's epilogue: the plain kernels' one-pass batch norm and 2x2 average
// or max pooling (the LeNet-BNs' layers, every post-op) against the reference's two ops and the oneDNN backend's own
// two ops, with the running statistics, in training and evaluation; other poolings and blocked
// input run as the two ops.
TEST(BatchNormBackends, PooledAgrees) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const struct {
    Shape x;
    bool training, blocked;
    PoolOptions pool;
    bool fused;
  } cases[] = {{{4, 6, 28, 28}, true, false, {.kernel = 2}, true},
               {{4, 16, 10, 10}, true, false, {.kernel = 2, .stride = 2}, true},
               {{4, 16, 10, 10}, true, true, {.kernel = 2}, false},
               {{3, 6, 9, 8}, true, false, {.kernel = 2}, false},
               {{3, 6, 8, 8}, true, false, {.kernel = 3, .stride = 2, .padding = 1}, false},
               {{3, 6, 8, 8}, false, false, {.kernel = 2}, true}};
  const std::optional<Activation> activations[] = {std::nullopt, Activation::Sigmoid, Activation::Relu,
                                                   Activation::Tanh, Activation::Relu6};
  for (const auto& c : cases)
    for (PoolMode mode : {PoolMode::Avg, PoolMode::Max})
      for (std::optional<Activation> act : activations) {
        const char* pool_name = mode == PoolMode::Max ? "max_pool2d" : "avg_pool2d";
        SCOPED_TRACE(::testing::Message() << "x " << c.x << (c.training ? " training" : " eval")
                                          << (c.blocked ? " blocked" : "") << " " << pool_name << " activation "
                                          << (act ? activation_name(*act) : "none"));
        const int64_t C = c.x[1];
        const std::vector<Tensor> inputs{rnd(c.x, 1) * 2.0 + 0.5, rnd({C}, 2) + 1.5, rnd({C}, 3)};
        // Each call gets running statistics of its own, compared after the forward.
        std::vector<Tensor> stats;
        auto op = [&](bool fused) {
          return [&, fused](const std::vector<Tensor>& in) {
            stats = {rnd({C}, 4), rnd({C}, 5) + 2.0};
            const Tensor x = c.blocked ? to_layout(in[0], Layout::Blocked16) : in[0];
            Epilogue epilogue;
            epilogue.activation = act;
            const Pooling pool{mode, c.pool};
            if (fused) epilogue.pool = pool;
            const Tensor y = batch_norm(x, in[1], in[2], stats[0], stats[1], c.training, 0.1, 1e-5, epilogue);
            return fused ? y : pool_nd(2, y, pool);
          };
        };
        expect_backends_agree(op(true), inputs);
        const ::Run a = run(Backend::Dnnl, op(true), inputs);
        const std::vector<Tensor> fused_stats = stats;
        const ::Run b = run(Backend::Dnnl, op(false), inputs);
        EXPECT_LT(relative_error(a.y, b.y), 1e-6);
        for (int i = 0; i < 3; ++i) EXPECT_LT(relative_error(a.grads[i], b.grads[i]), 1e-5) << "input " << i;
        for (int i = 0; i < 2; ++i)
          EXPECT_LT(relative_error(fused_stats[i], stats[i]), 1e-6) << "running statistic " << i;
        BackendGuard guard(Backend::Dnnl);
        const Tensor y = op(true)({requires_grad(inputs[0]), inputs[1], inputs[2]});
        const std::string name = fused_name("batch_norm", act, pool_name);
        EXPECT_EQ(y.grad_fn()->name(), c.fused ? name : std::string(pool_name));
      }
}

TEST(BatchNormBackends, EpilogueNamesBadArguments) {
  Epilogue pooled(Activation::Tanh);
  pooled.pool = Pooling{PoolMode::Avg, {.kernel = 2}};
  test::expect_error([&] { batch_norm(rnd({2, 3, 8}, 1), {}, {}, {}, {}, true, 0.1, 1e-5, pooled); },
                     "batch_norm: an epilogue pooling follows 2-D or 3-D ops only, with (N, C, H, W) or (N, C, D, H, W) "
                     "output; got [2,3,8]");
  pooled.pool->options.kernel = 3;
  test::expect_error([&] { batch_norm(rnd({2, 3, 2, 2}, 1), {}, {}, {}, {}, true, 0.1, 1e-5, pooled); },
                     "avg_pool2d: kernel 3x3 is larger than the padded input 2x2");
}

// Small values, and values 0.1 apart over [-24, 24] (both of relu6's bounds and the saturations).
TEST(ActivationBackends, Agree) {
  for (Activation kind : test::kActivations) {
    SCOPED_TRACE(activation_name(kind));
    const Fn f = [kind](const std::vector<Tensor>& in) { return activation(in[0], kind); };
    expect_backends_agree(f, {distinct({2, 16, 3, 5}, 3, 0.01, DType::F32)});
    expect_backends_agree(f, {distinct({7, 5}, 4, 0.01, DType::F32)});
    expect_backends_agree(f, {distinct({2, 16, 3, 5}, 5, 0.1, DType::F32)});
  }
}

// add_activation(a, b, kind) (oneDNN's binary primitive with an eltwise post-op) with both
// operands plain, both blocked, and one of each.
TEST(ActivationBackends, FusedAddAgrees) {
  for (Activation kind : test::kActivations)
    for (int layouts = 0; layouts < 4; ++layouts) {
      SCOPED_TRACE(std::string(activation_name(kind)) + " layouts " + std::to_string(layouts));
      expect_backends_agree(
          [&](const std::vector<Tensor>& in) {
            const Tensor a = layouts & 1 ? to_layout(in[0], Layout::Blocked16) : in[0];
            const Tensor b = layouts & 2 ? to_layout(in[1], Layout::Blocked16) : in[1];
            return add_activation(a, b, kind);
          },
          {rnd({2, 16, 5, 3}, 1), rnd({2, 16, 5, 3}, 2)});
    }
}

// Concatenation along channels: of blocked tensors whose channels are multiples of 16 it stays
// blocked (the gradient split back in blocks); of a mix or of other channel counts it is plain.
TEST(CatBackends, BlockedChannelsStayBlockedAndAgree) {
  // Small maps, and one image of large ones (each tensor's run copied in pieces by the threads).
  for (const Shape& nhw : {Shape{2, 3, 5}, Shape{1, 40, 45}})
    for (int layouts = 0; layouts < 4; ++layouts)
      for (const int64_t c : {16, 8}) {
        SCOPED_TRACE(::testing::Message() << "maps " << nhw << " layouts " << layouts << " channels " << c);
        const auto shape = [&](int64_t channels) { return Shape{nhw[0], channels, nhw[1], nhw[2]}; };
        expect_backends_agree(
            [&](const std::vector<Tensor>& in) {
              const Tensor a = layouts & 1 && c == 16 ? to_layout(in[0], Layout::Blocked16) : in[0];
              const Tensor b = layouts & 2 ? to_layout(in[1], Layout::Blocked16) : in[1];
              const Tensor y = cat({a, b, in[2]}, 1);
              EXPECT_EQ(y.layout() == Layout::Blocked16, c == 16 && (layouts & 1 || layouts & 2))
                  << "layout of the result";
              // The blocked copy moves every value: equal to the concatenation of the plain inputs.
              expect_close(y.contiguous(), cat({in[0].detach(), in[1].detach(), in[2].detach()}, 1), 0.0);
              return y * 1.0;
            },
            {rnd(shape(c), 1), rnd(shape(32), 2), rnd(shape(16), 3)});
      }
}

TEST(LinearBackends, Agree) {
  expect_backends_agree([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                        {rnd({8, 400}, 1), rnd({120, 400}, 2), rnd({120}, 3)});
  expect_backends_agree([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                        {rnd({1, 7}, 4), rnd({3, 7}, 5), Tensor()});
  // Few rows (the matrix-vector kernel): output features in steps of four and a remainder, with a
  // bias, on one thread and (1 x 300 x 130 multiply-adds) on all.
  expect_backends_agree([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                        {rnd({3, 37}, 6), rnd({10, 37}, 7), rnd({10}, 8)});
  expect_backends_agree([](const std::vector<Tensor>& in) { return linear(in[0], in[1], in[2]); },
                        {rnd({1, 300}, 9), rnd({130, 300}, 10), rnd({130}, 11)});
}

// ---- Chains: blocked activations flow from layer to layer and back ----

TEST(ChainBackends, ResidualBlockAgrees) {
  // relu(bn(conv(x))) -> conv -> bn, + shortcut, relu, max pool, global average pool, linear.
  const Tensor m = zeros({32}), v = ones({32});
  expect_backends_agree(
      [&](const std::vector<Tensor>& in) {
        Tensor rm = m.clone(), rv = v.clone(), rm2 = m.clone(), rv2 = v.clone();
        Tensor y = relu(batch_norm(conv2d(in[0], in[1], {}, {.padding = 1}), in[3], in[4], rm, rv, true));
        y = batch_norm(conv2d(y, in[2], {}, {.padding = 1}), in[3], in[4], rm2, rv2, true);
        y = relu(y + in[0]);
        y = max_pool2d(y, {.kernel = 3, .stride = 2, .padding = 1});
        y = adaptive_avg_pool2d(y, {1, 1}).flatten(1);
        return linear(y, in[5]);
      },
      {rnd({2, 32, 6, 6}, 1), rnd({32, 32, 3, 3}, 2) * 0.2, rnd({32, 32, 3, 3}, 3) * 0.2, rnd({32}, 4) + 1.0,
       rnd({32}, 5), rnd({10, 32}, 6)});
}

TEST(ChainBackends, InceptionConcatAgrees) {
  expect_backends_agree(
      [](const std::vector<Tensor>& in) {
        const Tensor a = relu(conv2d(in[0], in[1]));
        const Tensor b = relu(conv2d(in[0], in[2], {}, {.padding = 1}));
        const Tensor c = max_pool2d(in[0], {.kernel = 3, .stride = 1, .padding = 1});
        return sigmoid(cat({a, b, c}, 1));
      },
      {rnd({2, 16, 5, 5}, 1), rnd({16, 16, 1, 1}, 2), rnd({32, 16, 3, 3}, 3) * 0.3});
}
