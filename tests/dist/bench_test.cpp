// `mpirun -np N strata bench MODEL --mode train`: data-parallel steps, global images/s, and the
// communication backward did not hide; rank 0 alone reports.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "dist/dist_util.hpp"

namespace strata::test {
namespace {

TEST(BenchDist, ReportsOnceWithTheRanksAndTheUnhiddenCommunication) {
  STRATA_REQUIRE_MPI();
  const std::string args = "bench lenet --mode train --batch-size 8 --iters 3 --warmup 1 --threads 1";
  const CommandResult r = run_command(mpirun() + ranks_of_strata(2, args + " --json"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json j = nlohmann::json::parse(r.output);  // one object: rank 1 prints nothing
  EXPECT_EQ(j.at("ranks"), 2);
  EXPECT_GT(j.at("images_per_sec").get<double>(), 0.0);
  EXPECT_GE(j.at("comm_wait_share").get<double>(), 0.0);
  EXPECT_LT(j.at("comm_wait_share").get<double>(), 1.0);
  const CommandResult text = run_command(mpirun() + ranks_of_strata(2, args + " --no-overlap"));
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("data-parallel over 2 ranks"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("started after backward: communication not hidden by backward"), std::string::npos)
      << text.output;
  const CommandResult infer = run_command(mpirun() + ranks_of_strata(2, "bench lenet --mode infer --iters 1"));
  EXPECT_NE(infer.exit_code, 0);
  EXPECT_NE(infer.output.find("bench --mode infer runs in one process"), std::string::npos) << infer.output;
}

}  // namespace
}  // namespace strata::test
