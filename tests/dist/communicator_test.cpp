// The communicator and DataParallel under mpirun: tests/dist/worker/dist_worker.cpp on each rank.
#include <gtest/gtest.h>

#include "dist/dist_util.hpp"

namespace strata::test {
namespace {

// Runs the worker's check `what` on `ranks` ranks; expects every rank to print "ok".
void expect_worker_ok(int ranks, const std::string& what) {
  const CommandResult r = run_command(mpirun() + "-np " + std::to_string(ranks) + " '" + STRATA_DIST_WORKER + "' " + what);
  EXPECT_EQ(r.exit_code, 0) << r.output;
  for (int rank = 0; rank < ranks; ++rank)
    EXPECT_NE(r.output.find("rank " + std::to_string(rank) + ": ok"), std::string::npos) << r.output;
}

TEST(Communicator, SingleProcessWithoutALauncher) {
  const std::unique_ptr<dist::Communicator> comm = dist::make_single_process_communicator();
  EXPECT_EQ(comm->rank(), 0);
  EXPECT_EQ(comm->size(), 1);
  std::vector<float> x{1.0f, 2.0f};
  comm->all_reduce_sum(x);
  comm->all_reduce_sum_async(x)->wait();
  EXPECT_EQ(x, (std::vector<float>{1.0f, 2.0f}));
  std::string text = "same";
  dist::broadcast_string(*comm, text, 0);
  EXPECT_EQ(text, "same");
  EXPECT_THROW(comm->broadcast({}, 1), Error);
  if (!dist::launched_as_job()) {
    EXPECT_EQ(dist::world().size(), 1);
  }
}

TEST(Communicator, CollectivesOnTwoAndThreeRanks) {
  STRATA_REQUIRE_MPI();
  expect_worker_ok(2, "collectives");
  expect_worker_ok(3, "collectives");
}

TEST(Communicator, NonBlockingAllReduceProgressesWhileTheCallerComputes) {
  STRATA_REQUIRE_MPI();
  expect_worker_ok(2, "progress");
}

TEST(Communicator, AbortEndsTheJobWithTheRankAndReason) {
  STRATA_REQUIRE_MPI();
  const CommandResult r = run_command(mpirun(60) + "-np 2 '" + STRATA_DIST_WORKER + "' abort");
  expect_job_fails_saying(r, "strata: error: rank 1 of 2: the test asked rank 1 to fail");
}

TEST(DataParallel, GradientsEqualOneProcessOnTheWholeBatchEager) {
  STRATA_REQUIRE_MPI();
  expect_worker_ok(2, "data-parallel eager");
  expect_worker_ok(3, "data-parallel eager");
}

TEST(DataParallel, GradientsEqualOneProcessOnTheWholeBatchCompiled) {
  STRATA_REQUIRE_MPI();
  expect_worker_ok(3, "data-parallel compiled");
}

TEST(DataParallel, LeavesRank0sBatchNormStatisticsOnEveryRank) {
  STRATA_REQUIRE_MPI();
  expect_worker_ok(2, "buffers");
}

TEST(DataParallel, RefusesRanksWithDifferentModels) {
  STRATA_REQUIRE_MPI();
  const CommandResult r = run_command(mpirun(60) + "-np 2 '" + STRATA_DIST_WORKER + "' model-mismatch");
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("rank 0: error: DataParallel: the model (its parameters and buffers) differs between the ranks: "
                          "rank 1 differs from rank 0"),
            std::string::npos)
      << r.output;
  EXPECT_NE(r.output.find("rank 1: error: DataParallel: the model (its parameters and buffers) differs between the ranks: "
                          "rank 1 differs from rank 0; on rank 1: tensor "),
            std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace strata::test
