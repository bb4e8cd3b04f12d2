// Crash safety of a run directory (issue 22): `strata train` killed with SIGKILL at every step of
// every file it writes (STRATA_CRASH_AT, src/io/file.cpp) leaves each file complete, old or new,
// and --resume then ends with the weights of an uninterrupted run, byte for byte. Also the run
// directory's lock, the clean-up of killed writers' temporaries, and a full disk.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <regex>

#include "io/file.hpp"
#include "strata/backend.hpp"
#include "strata/io.hpp"
#include "train/checkpoint.hpp"
#include "train/run_lock.hpp"
#include "train/train_util.hpp"

using namespace strata;

namespace {

namespace fs = std::filesystem;

std::string shell_quoted(const fs::path& p) { return detail::cat("'", p.string(), "'"); }

bool is_temporary(const fs::path& p) {
  static const std::regex temporary(R"(.+\.tmp\.[0-9]+\.[0-9]+)");
  return std::regex_match(p.filename().string(), temporary);
}

// Every file of the run directory is complete: it parses as what its name says.
void expect_complete_files(const fs::path& dir, const std::string& context) {
  for (const auto& entry : fs::directory_iterator(dir)) {
    const fs::path& p = entry.path();
    const std::string name = p.filename().string();
    SCOPED_TRACE(context + ", file " + name);
    if (is_temporary(p)) continue;  // a killed writer's; the next start removes it
    if (name == "model.safetensors" || name == "best.safetensors") {
      EXPECT_NO_THROW(io::load_safetensors(p));
    } else if (name == "checkpoint.safetensors") {
      EXPECT_NO_THROW(train::load_checkpoint(p));
    } else if (name == "config.json") {
      EXPECT_NO_THROW(train::config_from_json(test::read_text(p)));
    } else if (name == "metrics.csv") {
      const std::string text = test::read_text(p);
      EXPECT_TRUE(text.starts_with("epoch,loss,") && text.ends_with("\n")) << text;
    } else if (name == "curves.svg") {
      EXPECT_TRUE(test::read_text(p).ends_with("</svg>\n"));
    } else {
      ADD_FAILURE() << "unexpected file " << name;
    }
  }
}

class CrashSafety : public ::testing::Test {
 protected:
  void SetUp() override { test::write_tiny_fashion_mnist(dir_ / "data", 256, 128); }
  std::string train_args(const fs::path& out, int epochs = 2) const {
    return detail::cat("train lenet --data ", shell_quoted(dir_ / "data"), " --epochs ", epochs,
                       " --batch-size 64 --threads 1 --out ", shell_quoted(out));
  }
  test::TempDir dir_;
};

}  // namespace

TEST_F(CrashSafety, KilledAtEveryWriteStepResumesToTheUninterruptedResult) {
  const fs::path reference = dir_ / "reference";
  const test::CommandResult whole = test::run_strata(train_args(reference));
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const test::Bytes final_weights = test::read_file(reference / "model.safetensors");
  const test::Bytes best_weights = test::read_file(reference / "best.safetensors");

  // Every step in the normal build; under the sanitizers (several times slower) every 15th.
#ifdef STRATA_SANITIZE
  constexpr int kStride = 15;
#else
  constexpr int kStride = 1;
#endif
  int steps = 0;
  for (int at = 1;; at += kStride) {
    const fs::path run = dir_ / ("run" + std::to_string(at));
    const test::CommandResult killed = test::run_strata_env("STRATA_CRASH_AT=" + std::to_string(at), train_args(run));
    if (killed.exit_code == 0) break;  // past the last step
    ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << "at step " << at << ": " << killed.output;
    ++steps;
    expect_complete_files(run, "killed at step " + std::to_string(at));

    // Continue from the checkpoint, or start again when the first epoch's was not written.
    const bool resumable = fs::exists(run / "checkpoint.safetensors");
    const test::CommandResult rest =
        test::run_strata(resumable ? "train --resume " + shell_quoted(run) : train_args(run) + " --overwrite");
    ASSERT_EQ(rest.exit_code, 0) << "after a kill at step " << at << ": " << rest.output;
    expect_complete_files(run, "resumed after step " + std::to_string(at));
    for (const auto& entry : fs::directory_iterator(run))
      EXPECT_FALSE(is_temporary(entry.path())) << entry.path() << " left after the resumed run finished";
    EXPECT_EQ(test::read_file(run / "model.safetensors"), final_weights) << "killed at step " << at;
    EXPECT_EQ(test::read_file(run / "best.safetensors"), best_weights) << "killed at step " << at;
    fs::remove_all(run);
  }
  // config.json, then per epoch best, checkpoint, model, metrics and curves, each in 4 or more steps.
  EXPECT_GE(steps * kStride, 2 * 5 * 4) << "the crash points did not fire";
  std::printf("killed and resumed at %d steps\n", steps);
}

TEST_F(CrashSafety, ASecondTrainerOnTheSameDirectoryIsRefused) {
  const fs::path run = dir_ / "run";
  const train::RunLock held(run);
  { const train::RunLock shared(run); }  // within one process the lock is shared
  const test::CommandResult r = test::run_strata(train_args(run));
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("is in use by another strata train"), std::string::npos) << r.output;
}

TEST_F(CrashSafety, TheLockRemovesTemporariesOfKilledWriters) {
  const fs::path run = dir_ / "run";
  test::write_file(run / "checkpoint.safetensors.tmp.4242.0", {1, 2, 3});
  test::write_file(run / "metrics.csv.tmp.17.3", {1});
  test::write_file(run / "notes.tmp.txt", {1});  // not a temporary's name: kept
  { const train::RunLock lock(run); }
  EXPECT_FALSE(fs::exists(run / "checkpoint.safetensors.tmp.4242.0"));
  EXPECT_FALSE(fs::exists(run / "metrics.csv.tmp.17.3"));
  EXPECT_TRUE(fs::exists(run / "notes.tmp.txt"));
}

// A disk that fills up (a file size limit gives the same error, EFBIG, as a full disk): a clear
// error, no half file under a real name, the previous checkpoint intact.
TEST_F(CrashSafety, AFullDiskIsAClearErrorAndKeepsThePreviousFiles) {
  const fs::path run = dir_ / "run";
  ASSERT_EQ(test::run_strata(train_args(run)).exit_code, 0);
  const test::Bytes checkpoint = test::read_file(run / "checkpoint.safetensors");
  // Room for config.json, not for the weights: the extended run fails at its first save.
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{.rlim_cur = 20'000, .rlim_max = 20'000};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    const std::string out = (dir_ / "full.txt").string();
    ::execl("/bin/sh", "sh", "-c", ("'" + std::string(STRATA_CLI) + "' train --resume " + shell_quoted(run) +
                                    " --epochs 4 >" + shell_quoted(out) + " 2>&1")
                                       .c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  const std::string output = test::read_text(dir_ / "full.txt");
  EXPECT_NE(output.find("File too large"), std::string::npos) << output;
  EXPECT_EQ(output.find("internal error"), std::string::npos) << output;
  EXPECT_EQ(test::read_file(run / "checkpoint.safetensors"), checkpoint);
  expect_complete_files(run, "after the full disk");
  for (const auto& entry : fs::directory_iterator(run)) EXPECT_FALSE(is_temporary(entry.path())) << entry.path();
}

// A checkpoint records the kernels that trained it; a resume on others says so (its results then
// differ by rounding from an uninterrupted run's).
TEST_F(CrashSafety, AResumeOnOtherKernelsSaysSo) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const fs::path run = dir_ / "run";
  ASSERT_EQ(test::run_strata(train_args(run, 1) + " --backend dnnl").exit_code, 0);
  EXPECT_EQ(train::load_checkpoint(run / "checkpoint.safetensors").backend, "dnnl");
  const test::CommandResult other = test::run_strata("train --resume " + shell_quoted(run) + " --epochs 2 --backend ref");
  EXPECT_EQ(other.exit_code, 0) << other.output;
  EXPECT_NE(other.output.find("strata: note: the run trained on the dnnl kernels and continues on the ref ones"),
            std::string::npos)
      << other.output;
  const test::CommandResult same =
      test::run_strata("train --resume " + shell_quoted(run) + " --epochs 3 --backend ref");
  EXPECT_EQ(same.output.find("note:"), std::string::npos) << same.output;  // the checkpoint now says ref
}
