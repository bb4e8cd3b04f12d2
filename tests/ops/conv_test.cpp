// Convolution: the book's worked examples, gradient checks over a table of shapes, and errors.
#include <algorithm>

#include "common/test_util.hpp"
#include "kernels/ref/conv.hpp"
#include "ops/conv.hpp"

using namespace strata;
using namespace strata::test;

// d2l 7.2: corr2d(X, K) with X = 0..8 (3x3), K = [[0,1],[2,3]].
TEST(ConvBook, CrossCorrelation) {
  Tensor x = arange(9).reshape({1, 1, 3, 3});
  Tensor k = image({0, 1, 2, 3}, {1, 1, 2, 2});
  expect_near(conv2d(x, k), {1, 1, 2, 2}, {19, 25, 37, 43});
}

// d2l 7.4: two input channels.
TEST(ConvBook, MultipleInputChannels) {
  Tensor x = image({0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 3});
  Tensor k = image({0, 1, 2, 3, 1, 2, 3, 4}, {1, 2, 2, 2});
  expect_near(conv2d(x, k), {1, 1, 2, 2}, {56, 72, 104, 120});
}

// d2l 7.4: K stacked with K+1 and K+2 gives three output channels.
TEST(ConvBook, MultipleOutputChannels) {
  Tensor x = image({0, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 3});
  Tensor k = image({0, 1, 2, 3, 1, 2, 3, 4}, {1, 2, 2, 2});
  Tensor k3 = cat({k, k + 1.0, k + 2.0}, 0);
  EXPECT_EQ(k3.shape(), (Shape{3, 2, 2, 2}));
  expect_near(conv2d(x, k3), {1, 3, 2, 2}, {56, 72, 104, 120, 76, 100, 148, 172, 96, 128, 192, 224});
}

// d2l 7.4: a 1x1 convolution is a matrix product over channels.
TEST(ConvBook, OneByOneIsMatrixProduct) {
  Tensor x = random({1, 3, 3, 3}, 1, DType::F32);
  Tensor k = random({2, 3, 1, 1}, 2, DType::F32);
  Tensor expected = matmul(k.reshape({2, 3}), x.reshape({3, 9})).reshape({1, 2, 3, 3});
  expect_close(conv2d(x, k), expected, 1e-6);
}

// d2l 7.3: output shapes for padding and stride on an 8x8 input.
TEST(ConvBook, PaddingAndStrideShapes) {
  Tensor x = random({1, 1, 8, 8}, 3, DType::F32);
  EXPECT_EQ(conv2d(x, zeros({1, 1, 3, 3}), {}, {.padding = 1}).shape(), (Shape{1, 1, 8, 8}));
  EXPECT_EQ(conv2d(x, zeros({1, 1, 5, 3}), {}, {.padding = {2, 1}}).shape(), (Shape{1, 1, 8, 8}));
  EXPECT_EQ(conv2d(x, zeros({1, 1, 3, 3}), {}, {.stride = 2, .padding = 1}).shape(), (Shape{1, 1, 4, 4}));
  EXPECT_EQ(conv2d(x, zeros({1, 1, 3, 5}), {}, {.stride = {3, 4}, .padding = {0, 1}}).shape(), (Shape{1, 1, 2, 2}));
}

// d2l 7.2: the vertical-edge image, the kernel [1, -1], and learning that kernel back.
TEST(ConvBook, EdgeDetectionAndLearningTheKernel) {
  Tensor x = ones({1, 1, 6, 8});
  {
    NoGradGuard no_grad;
    x.slice(3, 2, 6).fill_(0.0);
  }
  const Tensor k = image({1, -1}, {1, 1, 1, 2});
  const Tensor y = conv2d(x, k);
  std::vector<double> expected;
  for (int r = 0; r < 6; ++r)
    for (int c = 0; c < 7; ++c) expected.push_back(c == 1 ? 1.0 : c == 5 ? -1.0 : 0.0);
  expect_near(y, {1, 1, 6, 7}, expected);
  // The transposed image has horizontal edges: the kernel sees none.
  expect_near(conv2d(x.transpose(2, 3), k), {1, 1, 8, 5}, std::vector<double>(40, 0.0));

  // Learn K from (X, Y): 10 steps of gradient descent on the summed squared error, lr 3e-2.
  Tensor w = random({1, 1, 1, 2}, 7, DType::F32);
  w.set_requires_grad(true);
  double first_loss = 0, loss_value = 0;
  for (int step = 0; step < 10; ++step) {
    Tensor loss = (conv2d(x, w) - y).pow(2).sum();
    loss_value = loss.item();
    if (step == 0) first_loss = loss_value;
    w.zero_grad();
    loss.backward();
    NoGradGuard no_grad;
    w.add_(w.grad(), -3e-2);
  }
  EXPECT_LT(loss_value, 0.05 * first_loss);
  expect_near(w.detach(), {1, 1, 1, 2}, {1.0, -1.0}, 0.1);
}

// ---- Gradient checks over a table of shapes (double precision through autograd) ----

struct ConvCase {
  const char* name;
  Shape x, w;
  ConvOptions options;
  bool bias;
};

void PrintTo(const ConvCase& c, std::ostream* os) { *os << c.name; }

class ConvGradients : public ::testing::TestWithParam<ConvCase> {};

TEST_P(ConvGradients, MatchFiniteDifferences) {
  const ConvCase& c = GetParam();
  const bool three_d = c.x.ndim() == 5;
  std::vector<Tensor> inputs{requires_grad(random(c.x, 11)), requires_grad(random(c.w, 12)),
                             c.bias ? requires_grad(random({c.w[0]}, 13)) : Tensor()};
  expect_gradients(
      [&](const std::vector<Tensor>& in) {
        return three_d ? conv3d(in[0], in[1], in[2], c.options) : conv2d(in[0], in[1], in[2], c.options);
      },
      inputs);
}

INSTANTIATE_TEST_SUITE_P(
    Table, ConvGradients,
    ::testing::Values(ConvCase{"basic", {2, 3, 5, 5}, {4, 3, 3, 3}, {}, true},
                      ConvCase{"odd_non_square", {1, 2, 7, 4}, {3, 2, 3, 2}, {}, true},
                      ConvCase{"stride_padding", {2, 2, 6, 5}, {3, 2, 3, 3}, {.stride = 2, .padding = 1}, true},
                      ConvCase{"per_dim", {1, 2, 7, 6}, {2, 2, 3, 2}, {.stride = {2, 1}, .padding = {1, 0}}, false},
                      ConvCase{"dilation", {1, 2, 7, 7}, {2, 2, 3, 3}, {.padding = 2, .dilation = 2}, true},
                      ConvCase{"groups", {2, 4, 5, 5}, {6, 2, 3, 3}, {.padding = 1, .groups = 2}, true},
                      ConvCase{"depthwise", {1, 3, 4, 4}, {3, 1, 3, 3}, {.stride = 2, .padding = 1, .groups = 3}, false},
                      ConvCase{"one_by_one", {2, 3, 4, 4}, {5, 3, 1, 1}, {}, true},
                      ConvCase{"batch1_big_kernel", {1, 1, 6, 6}, {2, 1, 5, 5}, {.padding = 2}, true},
                      ConvCase{"3d", {2, 2, 4, 5, 4}, {3, 2, 3, 3, 2}, {.stride = {1, 2, 1}, .padding = 1}, true},
                      ConvCase{"3d_dilation_groups", {1, 4, 5, 5, 5}, {4, 2, 2, 2, 2}, {.dilation = 2, .groups = 2}, false}),
    [](const ::testing::TestParamInfo<ConvCase>& info) { return std::string(info.param.name); });

// conv2d / conv3d with a ReLU epilogue: exactly the values and gradients of relu(conv(...)), and a gradient
// check of the fused op.
TEST(ConvFusedRelu, EqualsReluOfConvInValuesAndGradients) {
  for (const bool three_d : {false, true}) {
    const Shape xs = three_d ? Shape{2, 2, 4, 5, 4} : Shape{2, 3, 6, 5};
    const Shape ws = three_d ? Shape{3, 2, 3, 3, 2} : Shape{4, 3, 3, 3};
    const ConvOptions o{.stride = {1, 2, 1}, .padding = 1};
    const ConvOptions o2{.stride = {2, 1}, .padding = 1};
    auto conv = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
      return three_d ? conv3d(x, w, b, o) : conv2d(x, w, b, o2);
    };
    auto fused = [&](const Tensor& x, const Tensor& w, const Tensor& b) {
      return three_d ? conv3d(x, w, b, o, Activation::Relu) : conv2d(x, w, b, o2, Activation::Relu);
    };
    std::vector<Tensor> a{requires_grad(random(xs, 1)), requires_grad(random(ws, 2)), requires_grad(random({ws[0]}, 3))};
    std::vector<Tensor> b{requires_grad(a[0].detach().clone()), requires_grad(a[1].detach().clone()),
                          requires_grad(a[2].detach().clone())};
    const Tensor ya = relu(conv(a[0], a[1], a[2])), yb = fused(b[0], b[1], b[2]);
    const Tensor gy = random(ya.shape(), 4);
    (ya * gy).sum().backward();
    (yb * gy).sum().backward();
    EXPECT_EQ(ya.to_vector<double>(), yb.to_vector<double>());
    const std::vector<double> values = ya.to_vector<double>();
    EXPECT_GT(std::count(values.begin(), values.end(), 0.0), 0) << "some outputs must be clamped";
    for (int i = 0; i < 3; ++i) EXPECT_EQ(a[i].grad().to_vector<double>(), b[i].grad().to_vector<double>()) << i;
    expect_gradients([&](const std::vector<Tensor>& in) { return fused(in[0], in[1], in[2]); },
                     {requires_grad(random(xs, 5)), requires_grad(random(ws, 6)), requires_grad(random({ws[0]}, 7))});
  }
}

// fold_batch_norm: a convolution with the folded weights equals the evaluation-mode batch norm of
// the convolution (in double, to rounding), grouped and 3-D too, with and without the optional
// tensors; mismatched shapes are errors naming the argument.
TEST(FoldBatchNorm, ConvolutionWithFoldedWeightsEqualsBatchNormOfConvolution) {
  struct Case {
    Shape x, w;
    ConvOptions options;
    bool conv_bias, affine;
  };
  for (const Case& c : {Case{{2, 3, 6, 5}, {4, 3, 3, 3}, {.stride = 2, .padding = 1}, true, true},
                        Case{{1, 4, 5, 5}, {6, 2, 3, 3}, {.padding = 1, .groups = 2}, false, true},
                        Case{{2, 2, 4, 4, 3}, {3, 2, 3, 3, 1}, {.padding = {1, 1, 0}}, true, false}}) {
    const int64_t o = c.w[0];
    const Tensor x = random(c.x, 1), w = random(c.w, 2), b = c.conv_bias ? random({o}, 3) : Tensor();
    const Tensor gamma = c.affine ? random({o}, 4) : Tensor(), beta = c.affine ? random({o}, 5) : Tensor();
    const Tensor mean = random({o}, 6), var = random({o}, 7, DType::F64, 0.5, 2.0);
    auto conv = [&](const Tensor& weight, const Tensor& bias) {
      return c.x.ndim() == 5 ? conv3d(x, weight, bias, c.options) : conv2d(x, weight, bias, c.options);
    };
    const FoldedConv f = fold_batch_norm(w, b, gamma, beta, mean, var, 1e-3);
    expect_close(conv(f.weight, f.bias), batch_norm(conv(w, b), gamma, beta, mean, var, false, 0.1, 1e-3), 1e-12);
  }
  const Tensor w = zeros({4, 3, 3, 3});
  expect_error([&] { fold_batch_norm(w, {}, {}, {}, zeros({3}), ones({4})); },
               "fold_batch_norm: running_mean must have shape [4] (one per output channel of weight [4,3,3,3]), got [3]");
  expect_error([&] { fold_batch_norm(w, zeros({4}), ones({5}), {}, zeros({4}), ones({4})); },
               "fold_batch_norm: batch norm weight must have shape [4]");
  expect_error([&] { fold_batch_norm(w, {}, {}, {}, zeros({4}), {}); }, "fold_batch_norm: running_var must have shape");
  expect_error([&] { fold_batch_norm(zeros({4}), {}, {}, {}, zeros({4}), ones({4})); },
               "fold_batch_norm: expected a convolution weight (O, I/groups, k...), got [4]");
}

// The reference kernels themselves, in double, against central differences of the forward
// kernel (no autograd involved).
TEST(ConvKernelRef, BackwardKernelsAreTheForwardsDerivative) {
  const ConvGeom g = ConvGeom::make("conv2d", 2, {2, 4, 6, 5}, {4, 2, 3, 3}, nullptr,
                                    {.stride = {2, 1}, .padding = 1, .dilation = {1, 2}, .groups = 2});
  Tensor x = random(g.x_shape(), 1), w = random(g.weight_shape(), 2), gy = random(g.y_shape(), 3);
  Tensor y = empty(g.y_shape(), DType::F64), gx = empty(g.x_shape(), DType::F64), gw = empty(g.weight_shape(), DType::F64);
  ref::conv_backward_data<double>(g, gy.mutable_data<double>(), w.mutable_data<double>(), gx.mutable_data<double>());
  ref::conv_backward_weight<double>(g, gy.mutable_data<double>(), x.mutable_data<double>(), gw.mutable_data<double>());
  auto objective = [&]() {  // <y, gy>
    ref::conv_forward<double>(g, x.mutable_data<double>(), w.mutable_data<double>(), nullptr, y.mutable_data<double>());
    return (y * gy).sum().item();
  };
  for (auto [t, grad] : {std::pair{x, gx}, std::pair{w, gw}}) expect_derivative(objective, t, grad, 0.0, 1e-7);
}

// ---- Errors name the op, the argument and the values ----

TEST(ConvErrors, Messages) {
  const Tensor x = zeros({2, 3, 8, 8});
  expect_error([&] { conv2d(x, zeros({6, 1, 5, 5})); },
               "conv2d: input has 3 channels but weight expects 1 (input [2,3,8,8], weight [6,1,5,5])");
  expect_error([&] { conv2d(zeros({3, 8, 8}), zeros({6, 3, 5, 5})); }, "conv2d: expected a 4-D input (N, C, H, W), got [3,8,8]");
  expect_error([&] { conv3d(x, zeros({6, 3, 5, 5})); }, "conv3d: expected a 5-D input");
  expect_error([&] { conv2d(x, zeros({6, 3, 3, 3}), {}, {.stride = 0}); }, "conv2d: stride must be positive, got 0x0");
  expect_error([&] { conv2d(x, zeros({6, 3, 3, 3}), {}, {.padding = -1}); }, "conv2d: padding must be non-negative");
  expect_error([&] { conv2d(x, zeros({6, 3, 3, 3}), {}, {.dilation = {1, 0}}); }, "conv2d: dilation must be positive, got 1x0");
  expect_error([&] { conv2d(x, zeros({6, 3, 3, 3}), {}, {.stride = {1, 1, 1}}); }, "conv2d: stride must have 1 or 2 values, got 3");
  expect_error([&] { conv2d(zeros({1, 1, 3, 3}), zeros({1, 1, 5, 5})); },
               "conv2d: kernel 5x5 is larger than the padded input 3x3");
  expect_error([&] { conv2d(zeros({1, 4, 3, 3}), zeros({6, 2, 1, 1}), {}, {.groups = 3}); },
               "conv2d: input channels 4 are not divisible by groups 3");
  expect_error([&] { conv2d(x, zeros({6, 3, 3, 3}), zeros({5})); }, "conv2d: bias must have shape [6]");
  expect_error([&] { conv2d(x, zeros({6, 3, 3, 3}, DType::F64)); }, "conv2d: input, weight and bias must have the same dtype");
}
