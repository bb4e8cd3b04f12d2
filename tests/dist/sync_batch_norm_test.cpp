// Synchronized batch norm: the op in one process (gradient check, equal to batch_norm in
// training), the conversion of a model's batch norms, DataParallel's refusal of a rank without
// examples, and under mpirun gradients and running statistics equal to one process's.
#include <gtest/gtest.h>

#include "common/test_util.hpp"
#include "dist/dist_util.hpp"

namespace strata::test {
namespace {

// x (3, 2, 2, 2) f64 with channels of different means and spreads; weight, bias (2).
struct SyncInputs {
  Tensor x, weight, bias;
};
SyncInputs sync_inputs() {
  Generator gen(7);
  Tensor x = uniform({3, 2, 2, 2}, -1, 2, gen, DType::F64);
  Tensor w = f64({1.5, -0.5}), b = f64({0.25, 1.0});
  x.set_requires_grad(true);
  w.set_requires_grad(true);
  b.set_requires_grad(true);
  return {x, w, b};
}

TEST(SyncBatchNorm, GradientCheckInOneProcessForAnyGradientWeight) {
  const std::unique_ptr<dist::Communicator> comm = dist::make_single_process_communicator();
  auto group = std::make_shared<dist::SyncBatchNorm>(*comm);
  const SyncInputs in = sync_inputs();
  // One rank's weight cancels (its sums are weighted by w_r, then divided by it).
  for (double weight : {1.0, 0.375}) {
    SCOPED_TRACE(weight);
    group->set_gradient_weight(weight);
    const GradcheckResult r = gradcheck(
        [&](const std::vector<Tensor>& t) { return dist::sync_batch_norm(t[0], t[1], t[2], {}, {}, 0.1, 1e-5, group); },
        {in.x, in.weight, in.bias});
    EXPECT_TRUE(r.ok) << r.message;
    EXPECT_EQ(r.checked, 24 + 2 + 2);
  }
}

TEST(SyncBatchNorm, EqualsBatchNormInTrainingInOneProcess) {
  const std::unique_ptr<dist::Communicator> comm = dist::make_single_process_communicator();
  auto group = std::make_shared<dist::SyncBatchNorm>(*comm);
  const SyncInputs a = sync_inputs(), b = sync_inputs();
  Tensor mean_a = f64({0.5, -1.0}), var_a = f64({2.0, 0.5});
  Tensor mean_b = mean_a.clone(), var_b = var_a.clone();
  const Tensor ya = dist::sync_batch_norm(a.x, a.weight, a.bias, mean_a, var_a, 0.1, 1e-5, group);
  const Tensor yb = batch_norm(b.x, b.weight, b.bias, mean_b, var_b, true, 0.1, 1e-5);
  expect_close(ya, yb, 1e-12);
  expect_close(mean_a, mean_b, 1e-12);
  expect_close(var_a, var_b, 1e-12);  // the unbiased variance, as batch_norm's
  Generator gen(3);
  const Tensor r = uniform({3, 2, 2, 2}, -1, 1, gen, DType::F64);
  (ya * r).sum().backward();
  (yb * r).sum().backward();
  expect_close(a.x.grad(), b.x.grad(), 1e-10);
  expect_close(a.weight.grad(), b.weight.grad(), 1e-10);
  expect_close(a.bias.grad(), b.bias.grad(), 1e-10);
}

TEST(SyncBatchNorm, RefusesOneValuePerChannelOverAllRanksAndBadShapes) {
  const std::unique_ptr<dist::Communicator> comm = dist::make_single_process_communicator();
  auto group = std::make_shared<dist::SyncBatchNorm>(*comm);
  expect_error([&] { dist::sync_batch_norm(ones({1, 3}), {}, {}, {}, {}, 0.1, 1e-5, group); },
                        "sync_batch_norm: expected more than 1 value per channel over all ranks when training, got 1 "
                        "(input [1,3] on rank 0)");
  expect_error([&] { dist::sync_batch_norm(ones({2, 3}), ones({2}), {}, {}, {}, 0.1, 1e-5, group); },
                        "sync_batch_norm: weight must have shape [3] (one per channel), got [2]");
  expect_error([&] { group->set_gradient_weight(0.0); },
                        "SyncBatchNorm: the gradient weight must be in (0, 1], got 0");
}

TEST(SyncBatchNorm, ConvertKeepsTheTensorsAndNamesOfEveryBatchNorm) {
  const std::unique_ptr<dist::Communicator> comm = dist::make_single_process_communicator();
  auto model = models::build("resnet18");
  const nn::NamedTensors before = model->state_dict();
  const std::shared_ptr<dist::SyncBatchNorm> group = dist::convert_sync_batch_norm(*model, *comm);
  ASSERT_NE(group, nullptr);
  const nn::NamedTensors after = model->state_dict();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].first, before[i].first);
    EXPECT_EQ(after[i].second.raw_data(), before[i].second.raw_data()) << after[i].first;  // the same tensors
  }
  int synchronized = 0, batch_norms = 0;
  for (const auto& [name, m] : model->named_modules())
    if (const auto* bn = dynamic_cast<const nn::BatchNormNd*>(m)) {
      ++batch_norms;
      synchronized += bn->sync() == group ? 1 : 0;
    }
  EXPECT_EQ(batch_norms, 17);  // the stem's and two per residual block (eight blocks)
  EXPECT_EQ(synchronized, batch_norms);
  EXPECT_NE(model->str().find("BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True, sync "
                              "over 1 rank)"),
            std::string::npos)
      << model->str();
  EXPECT_EQ(dist::convert_sync_batch_norm(*models::build("lenet"), *comm), nullptr);  // no batch norm
}

// In one process a synchronized model trains exactly as the plain one, compiled (and fused) too.
TEST(SyncBatchNorm, OneProcessTrainsBitwiseAsPlainBatchNorm) {
  const std::unique_ptr<dist::Communicator> comm = dist::make_single_process_communicator();
  manual_seed(5);
  auto plain = models::build("lenet-bn");
  manual_seed(5);
  auto synced = models::build("lenet-bn");
  dist::convert_sync_batch_norm(*synced, *comm);
  plain->hybridize();
  synced->hybridize();
  Generator gen(9);
  const Tensor x = uniform({6, 1, 28, 28}, 0, 1, gen);
  const Tensor y = from_data(std::vector<int64_t>{0, 1, 2, 3, 4, 5});
  cross_entropy((*plain)(x), y).backward();
  cross_entropy((*synced)(x), y).backward();
  const nn::NamedTensors p = plain->named_parameters(), s = synced->named_parameters();
  for (std::size_t i = 0; i < p.size(); ++i)
    expect_bitwise_equal({{p[i].first, p[i].second.grad()}}, {{s[i].first, s[i].second.grad()}});
  expect_bitwise_equal(plain->named_buffers(), synced->named_buffers());
}

TEST(SyncBatchNorm, DataParallelRefusesARankWithoutExamples) {
  const std::unique_ptr<dist::Communicator> comm = dist::make_single_process_communicator();
  auto model = models::build("lenet-bn");
  const std::shared_ptr<dist::SyncBatchNorm> group = dist::convert_sync_batch_norm(*model, *comm);
  dist::DataParallel dp(*model, *comm);
  dp.set_gradient_weight(0.25);
  EXPECT_EQ(group->gradient_weight(), 0.25);  // DataParallel's weight is the backward's too
  expect_error([&] { dp.set_gradient_weight(0.0); },
                        "DataParallel: gradient weight 0 (a rank without examples), but the model has synchronized "
                        "batch norms, whose forward and backward every rank must run");
}

// Runs the worker's sync-batch-norm check on `ranks` ranks in `mode`; expects every rank to say ok.
void expect_sync_worker_ok(int ranks, const std::string& mode, const std::string& model = "lenet-bn") {
  const CommandResult r = run_command(mpirun() + "-np " + std::to_string(ranks) + " '" + STRATA_DIST_WORKER +
                                     "' sync-batch-norm " + mode + " " + model);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < ranks; ++rank)
    EXPECT_NE(r.output.find("rank " + std::to_string(rank) + ": ok"), std::string::npos) << r.output;
}

TEST(SyncBatchNorm, GradientsAndRunningStatisticsEqualOneProcessOnTwoAndThreeRanks) {
  STRATA_REQUIRE_MPI();
  expect_sync_worker_ok(2, "eager");
  expect_sync_worker_ok(3, "eager");
  expect_sync_worker_ok(2, "compiled");
  expect_sync_worker_ok(3, "compiled");
}

TEST(SyncBatchNorm, ResNet18GradientsAndRunningStatisticsEqualOneProcessOnTwoAndThreeRanks) {
  STRATA_REQUIRE_MPI();
  STRATA_SKIP_UNDER_SANITIZERS();  // a minute there; the same code as lenet-bn's test above
  expect_sync_worker_ok(2, "compiled", "resnet18");
  expect_sync_worker_ok(3, "eager", "resnet18");
}

}  // namespace
}  // namespace strata::test
