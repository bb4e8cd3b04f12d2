// `mpirun -np N strata train`: data-parallel training equals one process on the same global
// batches, resumes exactly, and fails fast and clearly.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>

#include "dist/dist_util.hpp"
#include "strata/io.hpp"

namespace strata::test {
namespace {

const std::string kFashion = "--data '" + fashion_dir().string() + "'";

// Expects the weights files at a and b to hold the same tensors within `tolerance`, relative to
// each tensor's largest value.
void expect_weights_close(const std::filesystem::path& a, const std::filesystem::path& b, double tolerance) {
  const io::TensorFile x = io::load_safetensors(a), y = io::load_safetensors(b);
  ASSERT_EQ(x.tensors.size(), y.tensors.size());
  for (const auto& [name, t] : x.tensors) {
    SCOPED_TRACE(name);
    EXPECT_LE(relative_error(t, y.at(name)), tolerance);
  }
}

// The test accuracy of the last line of a run's metrics.csv.
double last_test_acc(const std::filesystem::path& run) {
  const std::string csv = read_text(run / "metrics.csv");
  const std::string last = csv.substr(csv.rfind('\n', csv.size() - 2) + 1);
  std::vector<std::string> fields;
  std::size_t at = 0;
  for (std::size_t comma; (comma = last.find(',', at)) != std::string::npos; at = comma + 1)
    fields.push_back(last.substr(at, comma - at));
  return std::stod(fields.at(3));  // epoch,loss,train_acc,test_acc,...
}

// LeNet (no batch norm) on the first `train` Fashion-MNIST images: `steps` steps of the global
// batch `batch`, one thread per process.
std::string lenet_args(const std::filesystem::path& out, int64_t batch, int64_t train) {
  return "train lenet " + kFashion + " --epochs 1 --batch-size " + std::to_string(batch) + " --limit-train " +
         std::to_string(train) + " --limit-test 500 --threads 1 --out '" + out.string() + "'";
}

// Trains with args_for(dir / "one") in one process, then with args_for(dir / job_dir) as a job of
// `ranks` processes; both must succeed. `job` gets the job's result.
void train_alone_and_as_job(const TempDir& dir, int ranks, const std::string& job_dir,
                            const std::function<std::string(const std::filesystem::path&)>& args_for,
                            CommandResult& job) {
  const CommandResult one = run_strata(args_for(dir / "one"));
  ASSERT_EQ(one.exit_code, 0) << one.output;
  job = run_command(mpirun() + ranks_of_strata(ranks, args_for(dir / job_dir)));
  ASSERT_EQ(job.exit_code, 0) << job.output;
}

// Under the sanitizers only the first and the failing-rank jobs run: the others drive the same
// code through more mpirun jobs of several training runs each (minutes under ASan, for CI's time;
// STRATA_SKIP_UNDER_SANITIZERS, dist_util.hpp).

TEST(TrainDist, TwoRanksEqualOneProcessOnTheSameGlobalBatches) {
  STRATA_REQUIRE_MPI();
  TempDir dir;
  // 20 steps of the global batch 256.
  CommandResult two;
  ASSERT_NO_FATAL_FAILURE(train_alone_and_as_job(
      dir, 2, "two", [](const std::filesystem::path& out) { return lenet_args(out, 256, 20 * 256); }, two));
  expect_weights_close(dir / "two" / "model.safetensors", dir / "one" / "model.safetensors", 1e-5);
  EXPECT_NEAR(last_test_acc(dir / "two"), last_test_acc(dir / "one"), 0.002);
  // Rank 0 alone reports (the epoch's line once; a slow run also prints progress lines, which
  // start with "  epoch 1/1: batch").
  const std::string epoch_line = "\nepoch 1/1: loss";
  const std::size_t first = two.output.find(epoch_line);
  EXPECT_NE(first, std::string::npos) << two.output;
  EXPECT_EQ(two.output.find(epoch_line, first + 1), std::string::npos) << two.output;
}

TEST(TrainDist, ThreeRanksSplitUnevenBatchesExactly) {
  STRATA_REQUIRE_MPI();
  STRATA_SKIP_UNDER_SANITIZERS();
  TempDir dir;
  // Batches of 100 over 3 ranks (34, 33, 33), and a last batch of 50 (17, 17, 16).
  CommandResult three;
  ASSERT_NO_FATAL_FAILURE(train_alone_and_as_job(
      dir, 3, "three", [](const std::filesystem::path& out) { return lenet_args(out, 100, 850); }, three));
  expect_weights_close(dir / "three" / "model.safetensors", dir / "one" / "model.safetensors", 1e-5);
}

// lenet-bn on the first `train` Fashion-MNIST images: one epoch of the global batch `batch`, one
// thread per process, `extra` options appended.
std::string lenet_bn_args(const std::filesystem::path& out, int64_t batch, int64_t train, const std::string& extra) {
  return "train lenet-bn " + kFashion + " --epochs 1 --batch-size " + std::to_string(batch) + " --limit-train " +
         std::to_string(train) + " --limit-test 100 --threads 1 --out '" + out.string() + "' " + extra;
}

// The largest difference between the tensors of the weights files at a and b (weights and
// running statistics), each relative to the larger of its largest value in b and 0.01. The floor
// serves the biases just before a batch norm: their gradient is 0 in exact arithmetic, so their
// values stay at rounding noise (about 1e-7) that no two runs share.
double largest_state_difference(const std::filesystem::path& a, const std::filesystem::path& b) {
  const io::TensorFile x = io::load_safetensors(a), y = io::load_safetensors(b);
  EXPECT_EQ(x.tensors.size(), y.tensors.size());
  double largest = 0;
  for (const auto& [name, t] : x.tensors) {
    if (t.dtype() != DType::F32) continue;  // num_batches_tracked: the same count of steps
    const Tensor want = y.at(name);
    largest = std::max(largest, max_abs(t - want) / std::max(max_abs(want), 0.01));
  }
  return largest;
}

// With --sync-bn a job trains as one process does. Not bit for bit: the job sums the statistics
// in another order and in double, and over 20 steps the rounding grows to about 2e-5 relative,
// as between one process's reference and oneDNN kernels (3e-5 on this run); without --sync-bn
// each rank's statistics differ by far more (over 1e-3).
TEST(TrainDist, SyncBatchNormOnTwoRanksEqualsOneProcess) {
  STRATA_REQUIRE_MPI();
  STRATA_SKIP_UNDER_SANITIZERS();  // the sanitizers see the same code in SyncBatchNorm's worker test
  TempDir dir;
  // 20 steps of the global batch 64, compiled; --sync-bn in one process is the plain batch norm.
  CommandResult job;
  ASSERT_NO_FATAL_FAILURE(train_alone_and_as_job(
      dir, 2, "job", [](const std::filesystem::path& out) { return lenet_bn_args(out, 64, 20 * 64, "--sync-bn"); },
      job));
  EXPECT_NE(job.output.find("batch norms synchronized over the ranks"), std::string::npos) << job.output;
  EXPECT_NE(read_text(dir / "job" / "config.json").find("\"sync_bn\": true"), std::string::npos);
  EXPECT_LT(largest_state_difference(dir / "job" / "model.safetensors", dir / "one" / "model.safetensors"), 1e-4);
  const CommandResult shards =
      run_command(mpirun() + ranks_of_strata(2, lenet_bn_args(dir / "shards", 64, 20 * 64, "")));
  ASSERT_EQ(shards.exit_code, 0) << shards.output;
  EXPECT_GT(largest_state_difference(dir / "shards" / "model.safetensors", dir / "one" / "model.safetensors"), 1e-3);
}

TEST(TrainDist, SyncBatchNormOnThreeRanksSplitsUnevenBatchesExactly) {
  STRATA_REQUIRE_MPI();
  STRATA_SKIP_UNDER_SANITIZERS();
  TempDir dir;
  // Batches of 100 over 3 ranks (34, 33, 33) and a last batch of 50 (17, 17, 16), eager.
  CommandResult job;
  ASSERT_NO_FATAL_FAILURE(train_alone_and_as_job(
      dir, 3, "job", [](const std::filesystem::path& out) { return lenet_bn_args(out, 100, 850, "--sync-bn --eager"); },
      job));
  EXPECT_LT(largest_state_difference(dir / "job" / "model.safetensors", dir / "one" / "model.safetensors"), 1e-4);
}

TEST(TrainDist, SyncBatchNormRefusesABatchSmallerThanTheRanks) {
  STRATA_REQUIRE_MPI();
  STRATA_SKIP_UNDER_SANITIZERS();
  TempDir dir;
  const CommandResult r = run_command(mpirun(60) + ranks_of_strata(3, lenet_bn_args(dir / "run", 2, 64, "--sync-bn")));
  expect_job_fails_saying(r, "--sync-bn needs an example of every batch on every rank (synchronized batch norms are "
                             "collectives), but a batch of 2 leaves 1 of the 3 ranks none; use --batch-size 3 or more");
}

TEST(TrainDist, ResumeEqualsAnUninterruptedRun) {
  STRATA_REQUIRE_MPI();
  STRATA_SKIP_UNDER_SANITIZERS();
  TempDir dir;
  auto args = [&](const std::string& out, int epochs) {
    return "train lenet " + kFashion + " --epochs " + std::to_string(epochs) +
           " --batch-size 64 --limit-train 512 --limit-test 200 --threads 1 --out '" + (dir / out).string() + "'";
  };
  const CommandResult whole = run_command(mpirun() + ranks_of_strata(2, args("whole", 2)));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const CommandResult first = run_command(mpirun() + ranks_of_strata(2, args("parts", 1)));
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const CommandResult rest = run_command(
      mpirun() + ranks_of_strata(2, "train --resume '" + (dir / "parts").string() + "' --epochs 2 " + kFashion));
  ASSERT_EQ(rest.exit_code, 0) << rest.output;
  EXPECT_NE(rest.output.find("resuming after epoch 1 of 2"), std::string::npos) << rest.output;
  expect_bitwise_equal(io::load_safetensors(dir / "parts" / "model.safetensors").tensors,
                       io::load_safetensors(dir / "whole" / "model.safetensors").tensors);
  EXPECT_EQ(read_text(dir / "parts" / "metrics.csv").substr(0, 60), read_text(dir / "whole" / "metrics.csv").substr(0, 60));
}

TEST(TrainDist, ARankThatFailsEndsTheJobWithItsRankAndReason) {
  STRATA_REQUIRE_MPI();
  TempDir dir;
  const std::string common = " --epochs 1 --limit-train 256 --limit-test 100 --threads 1 --out '" + (dir / "run").string() + "'";
  // Rank 1 is given a data directory that does not exist; rank 0 goes on until it waits for rank 1.
  const CommandResult r = run_command(mpirun(60) + ranks_of_strata(1, "train lenet " + kFashion + common) + " : " +
                                      ranks_of_strata(1, "train lenet --data '" + (dir / "missing").string() + "'" + common));
  expect_job_fails_saying(r, "strata: error: rank 1 of 2: ");
  EXPECT_NE(r.output.find((dir / "missing").string()), std::string::npos) << r.output;
}

TEST(TrainDist, RanksWithDifferentOptionsAreRefusedNamingTheRankAndOption) {
  STRATA_REQUIRE_MPI();
  STRATA_SKIP_UNDER_SANITIZERS();
  TempDir dir;
  const std::string common = "train lenet " + kFashion + " --epochs 1 --limit-train 256 --limit-test 100 --threads 1 --out '" +
                             (dir / "run").string() + "'";
  const CommandResult r =
      run_command(mpirun(60) + ranks_of_strata(1, common + " --lr 0.5") + " : " + ranks_of_strata(1, common + " --lr 0.25"));
  expect_job_fails_saying(r, "the training configuration or data differs between the ranks: rank 1 differs from "
                             "rank 0; on rank 1: lr is 0.25 on rank 1 but 0.5 on rank 0");
  EXPECT_FALSE(std::filesystem::exists(dir / "run" / "config.json"));

  // The same options on other data: a dataset of 100 training images on rank 1.
  write_tiny_fashion_mnist(dir / "tiny", 100, 100);
  const std::string options = " --epochs 1 --limit-train 256 --limit-test 100 --threads 1 --out '" + (dir / "run").string() + "'";
  const CommandResult data =
      run_command(mpirun(60) + ranks_of_strata(1, "train lenet " + kFashion + options) + " : " +
                  ranks_of_strata(1, "train lenet --data '" + (dir / "tiny").string() + "'" + options));
  expect_job_fails_saying(data, "on rank 1: train_examples is 100 on rank 1 but 256 on rank 0");
}

TEST(TrainDist, ALastBatchThatWouldLeaveARankOneExampleIsDropped) {
  STRATA_REQUIRE_MPI();
  STRATA_SKIP_UNDER_SANITIZERS();
  TempDir dir;
  // 260 = 256 + 4: the last batch would give 3 ranks 2, 1 and 1 examples, too few for batch norm.
  const CommandResult r = run_command(
      mpirun() + ranks_of_strata(3, "train lenet-bn " + kFashion + " --epochs 1 --batch-size 256 --limit-train 260 "
                                    "--limit-test 100 --threads 1 --out '" + (dir / "run").string() + "'"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("epoch 1/1: "), std::string::npos) << r.output;
}

}  // namespace
}  // namespace strata::test
