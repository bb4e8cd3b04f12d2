// Helpers of the data-parallel tests: mpirun command lines for this machine and CI, and the
// skip when the build has no MPI.
#pragma once

#include <cstdlib>
#include <string>

#include "strata/dist.hpp"
#include "train/train_util.hpp"

namespace strata::test {

// Skips the test, saying why, where the build or the machine cannot run an MPI job.
#define STRATA_REQUIRE_MPI()                                                                             \
  do {                                                                                                   \
    if (!::strata::dist::built_with_mpi())                                                               \
      GTEST_SKIP() << "this build has no MPI (install libopenmpi-dev and openmpi-bin, rebuild)";         \
    if (std::system("command -v mpirun > /dev/null 2>&1") != 0) GTEST_SKIP() << "mpirun is not on PATH"; \
  } while (0)

// Skips a test in the sanitizer build whose code other, shorter tests there already run (CI's time).
#ifdef STRATA_SANITIZE
#define STRATA_SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "runs in the normal build (CI time)"
#else
#define STRATA_SKIP_UNDER_SANITIZERS() static_cast<void>(0)
#endif

// The start of an mpirun command line: root allowed (CI runs as root), more ranks than cores,
// no binding (tests run side by side), shared memory without the single-copy mechanism that
// containers often forbid, and `timeout` so that a hung job fails the test instead of CTest's
// whole run. GOMP_SPINCOUNT as apps/strata/main.cpp sets it (saves its re-execution). Under the
// sanitizers, LeakSanitizer skips what Open MPI keeps after MPI_Finalize (dist/lsan.supp; full
// stacks, so that they reach Open MPI's libraries). Continue with "-np N program args", or
// several "-np N program args" joined by " : ".
inline std::string mpirun(int seconds = 120) {
#ifdef STRATA_SANITIZE
  const std::string leaks = std::string("LSAN_OPTIONS=fast_unwind_on_malloc=0:print_suppressions=0:suppressions=") +
                            STRATA_DIST_LSAN_SUPPRESSIONS + " ";
#else
  const std::string leaks;
#endif
  return leaks +
         "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl_vader_single_copy_mechanism=none "
         "GOMP_SPINCOUNT=1000 timeout " +
         std::to_string(seconds) + " mpirun --oversubscribe --bind-to none ";
}

// " -np N 'strata' args" for an mpirun line.
inline std::string ranks_of_strata(int ranks, const std::string& args) {
  return "-np " + std::to_string(ranks) + " '" + STRATA_CLI + "' " + args;
}

// A job that must fail: it ended with an error of its own (not mpirun()'s `timeout`, 124), and its
// output says `message`.
inline void expect_job_fails_saying(const CommandResult& r, const std::string& message) {
  EXPECT_NE(r.exit_code, 0) << r.output;
  EXPECT_NE(r.exit_code, 124) << "the job hung: " << r.output;
  EXPECT_NE(r.output.find(message), std::string::npos) << r.output;
}

}  // namespace strata::test
