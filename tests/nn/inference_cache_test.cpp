// Inference reuses what it derives from the weights (the batch norm folded into the convolution,
// ConvNd::with_batch_norm; the weights reordered for oneDNN, kernels/dnnl/weight_cache.hpp) only
// while they are unchanged: every way of changing them shows in the next inference, which must
// agree with the reference kernels (which derive nothing) on the same module.
#include <gtest/gtest.h>

#include "common/test_util.hpp"
#include "strata/backend.hpp"
#include "strata/strata.hpp"
#ifdef STRATA_WITH_DNNL
#include "kernels/dnnl/weight_cache.hpp"
#endif

namespace strata {
namespace {

// conv (16 -> 32, 3x3: oneDNN wants its weights reordered into blocks) + batch norm + ReLU,
// with running statistics away from 0 and 1.
struct Block {
  std::shared_ptr<nn::Conv2d> conv = std::make_shared<nn::Conv2d>(16, 32, 3, ConvOptions{.padding = 1});
  std::shared_ptr<nn::BatchNorm2d> bn = std::make_shared<nn::BatchNorm2d>(32);
  nn::Sequential seq{{conv, bn, std::make_shared<nn::ReLU>()}};
  Block() {
    NoGradGuard no_grad;
    bn->running_mean.copy_(test::random({32}, 1, DType::F32, -0.5, 0.5));
    bn->running_var.copy_(test::random({32}, 2, DType::F32, 0.5, 2.0));
    bn->weight.copy_(test::random({32}, 3, DType::F32, 0.5, 1.5));
    seq.eval();
  }
};

Tensor infer(nn::Module& m, const Tensor& x, Backend backend) {
  BackendGuard guard(backend);
  NoGradGuard no_grad;
  return m(x).detach().contiguous();
}

double max_difference(const Tensor& a, const Tensor& b) {
  const std::vector<double> x = a.to_vector<double>(), y = b.to_vector<double>();
  double d = 0;
  for (std::size_t i = 0; i < x.size(); ++i) d = std::max(d, std::abs(x[i] - y[i]));
  return d;
}

// The oneDNN inference of `m` (run twice: the second from the caches) against the reference's;
// returns it.
Tensor expect_current(nn::Module& m, const Tensor& x) {
  const Tensor first = infer(m, x, Backend::Dnnl), again = infer(m, x, Backend::Dnnl);
  const Tensor ref = infer(m, x, Backend::Ref);
  EXPECT_LT(max_difference(first, ref), 1e-4);
  EXPECT_EQ(max_difference(again, first), 0.0);
  return again;
}

TEST(InferenceCache, SeesEveryChangeOfTheWeightsAndStatistics) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  Block b;
  const Tensor x = test::random({2, 16, 7, 6}, 4, DType::F32);
  Tensor last = expect_current(b.seq, x);
  auto expect_changed = [&](const char* what) {
    SCOPED_TRACE(what);
    const Tensor now = expect_current(b.seq, x);
    EXPECT_GT(max_difference(now, last), 1e-3) << "the change did not show";
    last = now;
  };
  {
    NoGradGuard no_grad;
    b.conv->weight.mul_(1.5);
  }
  expect_changed("an in-place op on the convolution's weight");
  b.conv->weight.mutable_data<float>()[7] += 2.0f;
  expect_changed("a write through mutable_data()");
  {
    NoGradGuard no_grad;
    b.bn->bias.fill_(0.25);
  }
  expect_changed("the batch norm's bias");
  b.seq.train();
  b.seq(x);  // batch statistics update the running averages in place
  b.seq.eval();
  expect_changed("a training-mode forward");
  {
    b.seq.train();
    optim::SGD sgd(b.seq.parameters(), 0.5);
    (b.seq(x) * test::random({2, 32, 7, 6}, 5, DType::F32)).sum().backward();
    sgd.step();
    b.seq.eval();
  }
  expect_changed("an optimizer step");
  Block other;
  {
    NoGradGuard no_grad;
    other.conv->weight.mul_(-1.0);
  }
  b.seq.load_state_dict(other.seq.state_dict());
  expect_changed("load_state_dict");
}

// A convolution without a batch norm, called as an op: its cached reorder follows the weight.
TEST(InferenceCache, ConvolutionFollowsItsWeight) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const Tensor x = test::random({1, 16, 5, 5}, 6, DType::F32);
  Tensor w = test::random({32, 16, 3, 3}, 7, DType::F32);
  auto run = [&](Backend backend) {
    BackendGuard guard(backend);
    NoGradGuard no_grad;
    return conv2d(x, w, Tensor(), {.padding = 1}).contiguous();
  };
  for (int change = 0; change < 3; ++change) {
    SCOPED_TRACE(change);
    EXPECT_LT(max_difference(run(Backend::Dnnl), run(Backend::Ref)), 1e-4);
    EXPECT_LT(max_difference(run(Backend::Dnnl), run(Backend::Ref)), 1e-4);  // from the cache
    w.add_(test::random({32, 16, 3, 3}, 8 + change, DType::F32));
  }
  // A new tensor in the freed one's memory is not mistaken for it (storages have their own ids).
  const Tensor before = run(Backend::Dnnl);
  w = Tensor();
  w = test::random({32, 16, 3, 3}, 20, DType::F32);
  EXPECT_LT(max_difference(run(Backend::Dnnl), run(Backend::Ref)), 1e-4);
  EXPECT_GT(max_difference(run(Backend::Dnnl), before), 1e-3);
#ifdef STRATA_WITH_DNNL
  // Training keeps no copy: a call with gradients on drops the weight's entry.
  EXPECT_GT(dnnl_backend::weight_cache_bytes(), 0u);
  {
    BackendGuard guard(Backend::Dnnl);
    conv2d(x, test::requires_grad(w.clone()), Tensor(), {.padding = 1});
    conv2d(x, w, Tensor(), {.padding = 1});
  }
  EXPECT_EQ(dnnl_backend::weight_cache_bytes(), 0u);
#endif
}

}  // namespace
}  // namespace strata
