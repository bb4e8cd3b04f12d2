// Golden numerics against PyTorch (tests/fixtures/golden/numerics_*.json, written by
// tools/make_golden.py): lenet-bn, lenet-gluon, lenet-bn-gluon (batch 8, 28x28) and resnet18
// (batch 2, 56x56) with weights and inputs from a formula both sides compute, so nothing from
// PyTorch is loaded but the expected numbers. One training-mode forward (logits, cross-entropy, gradients of every parameter,
// updated BatchNorm running statistics), then an evaluation-mode forward with those statistics.
//
// The expected values are PyTorch's float64 results for the float32-rounded weights. Strata runs
//   - in float32 on the reference kernels (set_cpu_backend(Backend::Ref));
//   - in float32 on the default CPU backend, when it has kernels of its own (else it is the
//     reference run again and is skipped);
//   - in float64 (the LeNet-BNs), where it must agree to rounding (catches formula slips such as eps
//     placement that float32 tolerances would hide).
// Each run prints its worst errors.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/test_util.hpp"
#include "core/dispatch.hpp"
#include "models/golden.hpp"
#include "ops/activation.hpp"
#include "ops/batchnorm.hpp"
#include "ops/conv.hpp"
#include "ops/elementwise.hpp"
#include "ops/linear.hpp"
#include "ops/loss.hpp"
#include "ops/pool.hpp"
#include "ops/reduce.hpp"

namespace strata {
namespace {

using nlohmann::json;
using test::load_golden;

enum class Run { Ref, Default, F64 };

struct Tolerance {
  double logits, grads;
};

// Whether the default CPU backend has kernels of its own for any op family the models use.
bool default_backend_is_fast() {
  const Backend b = cpu_backend();
  if (b == Backend::Ref) return false;
  return !KernelRegistry<ConvKernels>::entries(b).empty() || !KernelRegistry<PoolKernels>::entries(b).empty() ||
         !KernelRegistry<BatchNormKernels>::entries(b).empty() || !KernelRegistry<LinearKernels>::entries(b).empty() ||
         !KernelRegistry<MatmulKernels>::entries(b).empty() || !KernelRegistry<ActivationKernels>::entries(b).empty() ||
         !KernelRegistry<ElementwiseKernels>::entries(b).empty() || !KernelRegistry<ReduceKernels>::entries(b).empty() ||
         !KernelRegistry<SoftmaxKernels>::entries(b).empty() || !KernelRegistry<CrossEntropyKernels>::entries(b).empty();
}

// Restores the CPU backend on scope exit.
class BackendScope {
 public:
  explicit BackendScope(Backend b) : saved_(cpu_backend()) { set_cpu_backend(b); }
  ~BackendScope() { set_cpu_backend(saved_); }
  BackendScope(const BackendScope&) = delete;
  BackendScope& operator=(const BackendScope&) = delete;

 private:
  Backend saved_;
};

// Tracks the largest error of a kind and where it was seen.
struct Worst {
  double err = 0;
  std::string where;
  void see(double e, const std::string& w) {
    if (e > err) err = e, where = w;
  }
};

void check_model(const std::string& fixture, Run run, const Tolerance& tol) {
  const json g = load_golden(fixture);
  const std::string name = g.at("model");
  const Shape input = test::shape_of(g.at("input"));
  const DType dtype = run == Run::F64 ? DType::F64 : DType::F32;

  auto model = models::build(name);
  test::set_formula_weights(*model);
  model->to(dtype);
  model->train();
  const Tensor x = test::formula_tensor(input, 0, 1.0).to(dtype);
  const std::vector<int64_t> labels = g.at("labels").get<std::vector<int64_t>>();
  const Tensor targets = from_data(std::span<const int64_t>(labels));

  // ---- Training mode: logits, loss, gradients, running statistics ----
  const Tensor logits = (*model)(x);
  const Tensor loss = cross_entropy(logits, targets);
  loss.backward();
  const double logits_train_err = test::relative_error(logits, test::matrix_of(g.at("logits_train")));
  const double loss_err = std::abs(loss.item() - g.at("loss").get<double>()) / std::abs(g.at("loss").get<double>());
  EXPECT_LE(logits_train_err, tol.logits) << "training-mode logits";
  EXPECT_LE(loss_err, tol.logits) << "loss " << loss.item() << " vs " << g.at("loss").get<double>();

  const nn::NamedTensors params = model->named_parameters();
  const json& grads = g.at("grads");
  ASSERT_EQ(params.size(), grads.size());
  std::map<std::string, double> rms;  // of each expected gradient
  double largest_l2 = 0;
  for (const json& e : grads) {
    const double l2 = e.at("l2");
    rms[e.at("name")] = l2 / std::sqrt(static_cast<double>(test::shape_of(e.at("shape")).numel()));
    largest_l2 = std::max(largest_l2, l2);
  }
  Worst grad_worst, zero_worst;
  for (std::size_t i = 0; i < params.size(); ++i) {
    const auto& [pname, p] = params[i];
    const json& e = grads[i];
    ASSERT_EQ(pname, e.at("name").get<std::string>());
    ASSERT_TRUE(p.grad().defined()) << pname << " has no gradient";
    const std::vector<double> v = p.grad().to_vector<double>();
    if (e.at("l2").get<double>() > 1e-9 * largest_l2) {
      // Sum against the sum of magnitudes (a sum may cancel to ~0), the L2 norm against itself,
      // the sampled values against the gradient's RMS.
      double sum = 0, l2 = 0;
      for (double d : v) sum += d, l2 += d * d;
      l2 = std::sqrt(l2);
      const double err_sum = std::abs(sum - e.at("sum").get<double>()) / e.at("abs_sum").get<double>();
      const double err_l2 = std::abs(l2 - e.at("l2").get<double>()) / e.at("l2").get<double>();
      double err_values = 0;
      const auto idx = e.at("indices").get<std::vector<int64_t>>();
      const auto values = e.at("values").get<std::vector<double>>();
      for (std::size_t j = 0; j < idx.size(); ++j)
        err_values = std::max(err_values, std::abs(v.at(idx[j]) - values[j]) / rms[pname]);
      EXPECT_LE(err_sum, tol.grads) << pname << " gradient sum " << sum << " vs " << e.at("sum").get<double>();
      EXPECT_LE(err_l2, tol.grads) << pname << " gradient L2 " << l2 << " vs " << e.at("l2").get<double>();
      EXPECT_LE(err_values, tol.grads) << pname << " sampled gradient values";
      grad_worst.see(std::max({err_sum, err_l2, err_values}), pname);
    } else {
      // Zero in exact arithmetic (the bias of a layer that BatchNorm follows): only rounding
      // noise, measured against the RMS of the same layer's weight gradient.
      double largest = 0;
      for (double d : v) largest = std::max(largest, std::abs(d));
      const double err = largest / rms.at(pname.substr(0, pname.rfind('.')) + ".weight");
      EXPECT_LE(err, tol.grads) << pname << " should have a zero gradient, has up to " << largest;
      zero_worst.see(err, pname);
    }
  }

  const io::TensorFile stats = io::load_safetensors(test::golden_dir() / g.at("running_stats_file").get<std::string>());
  const nn::NamedTensors buffers = model->named_buffers();
  Worst stats_worst;
  int64_t stats_seen = 0;
  for (const auto& [bname, b] : buffers) {
    if (bname.ends_with("num_batches_tracked")) {
      EXPECT_EQ(b.item(), g.at("num_batches_tracked").at(bname).get<double>()) << bname;
      continue;
    }
    const Tensor* expected = stats.find(bname);
    ASSERT_NE(expected, nullptr) << bname << " missing from the fixture";
    const double err = test::relative_error(b, *expected);
    EXPECT_LE(err, tol.logits) << bname;
    stats_worst.see(err, bname);
    ++stats_seen;
  }
  EXPECT_EQ(stats_seen, static_cast<int64_t>(stats.tensors.size()));

  // ---- Evaluation mode with the updated running statistics ----
  model->eval();
  Tensor logits_eval;
  {
    NoGradGuard no_grad;
    logits_eval = (*model)(x);
  }
  const double logits_eval_err = test::relative_error(logits_eval, test::matrix_of(g.at("logits_eval")));
  EXPECT_LE(logits_eval_err, tol.logits) << "evaluation-mode logits";

  const char* run_name = run == Run::Ref ? "f32 ref" : run == Run::F64 ? "f64" : "f32 default";
  std::printf("[golden] %s %s (cpu_backend() = %s): logits train %.2e, eval %.2e, loss %.2e; gradients %.2e (%s), "
              "zero gradients %.2e (%s); running stats %.2e (%s)\n",
              name.c_str(), run_name, backend_name(cpu_backend()), logits_train_err, logits_eval_err, loss_err,
              grad_worst.err, grad_worst.where.c_str(), zero_worst.err, zero_worst.where.c_str(), stats_worst.err,
              stats_worst.where.c_str());
}

// float32: "about 1e-4" for logits and "about 1e-3" for gradients (relative to each tensor's
// RMS; PyTorch's own float32 run is within 3e-5 and 1.4e-4 of the float64 values).
constexpr Tolerance kF32{1e-4, 1e-3};
constexpr Tolerance kF64{1e-10, 1e-10};  // seen: 4e-15 and 5e-14

class Golden : public ::testing::TestWithParam<const char*> {};

TEST_P(Golden, ReferenceBackendFloat32) {
  BackendScope ref(Backend::Ref);
  check_model(GetParam(), Run::Ref, kF32);
}

TEST_P(Golden, DefaultBackendFloat32) {
  if (!default_backend_is_fast())
    GTEST_SKIP() << "the default CPU backend (" << backend_name(cpu_backend())
                 << ") has no kernels of its own; ReferenceBackendFloat32 covers it";
  check_model(GetParam(), Run::Default, kF32);
}


INSTANTIATE_TEST_SUITE_P(Models, Golden,
                         ::testing::Values("numerics_lenet-bn.json", "numerics_lenet-gluon.json",
                                           "numerics_lenet-bn-gluon.json", "numerics_resnet18.json"),
                         [](const auto& info) {
                           std::string n = info.param;
                           n = n.substr(9, n.size() - 14);  // numerics_<model>.json
                           std::erase(n, '-');
                           return n;
                         });

// float64 on lenet-bn only (conv, BatchNorm 1-D and 2-D, linear, sigmoid, average pooling,
// cross-entropy): resnet18's float64 run agrees as closely (seen: 4e-15 logits, 3e-14 gradients)
// but costs seconds on the reference kernels.
TEST(Golden, LenetBnFloat64) { check_model("numerics_lenet-bn.json", Run::F64, kF64); }
// And the first edition's, with max pooling in place of average.
TEST(Golden, LenetBnGluonFloat64) { check_model("numerics_lenet-bn-gluon.json", Run::F64, kF64); }

// The formula itself: the values the fixture generator printed for tensor 1 and the input.
TEST(GoldenFormula, MatchesThePythonGenerator) {
  // /usr/bin/python3 -c "import sys; sys.path.insert(0, 'tools'); import make_golden as m;
  //   print(list(map(float, m.formula(4, 1, 0.5))), list(map(float, m.formula(3, 0, 1.0, 1.0))))"
  // Exact equality: both sides round the same double to float32.
  test::expect_near(test::formula_tensor({4}, 1, 0.5), {4}, {0.2663017511367798, -0.3739689886569977, 0.20093123614788055, 0.13287626206874847}, 0);
  test::expect_near(test::formula_tensor({3}, 0, 1.0, 1.0), {3}, {1.7666215896606445, 1.1331231594085693, 1.1823794841766357}, 0);
}

}  // namespace
}  // namespace strata
