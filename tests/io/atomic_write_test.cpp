// Writes go to a temporary file that is renamed into place: a failed write leaves neither a
// partial file nor the temporary, and an existing file stays as it was.
#include <sys/resource.h>

#include <csignal>

#include "common/test_util.hpp"
#include "io/io_test_util.hpp"
#include "strata/io.hpp"

using namespace strata;
using strata::test::expect_file_error;
using strata::test::read_bytes;
using strata::test::ScratchDir;

namespace {

// Lowers this process's file size limit (RLIMIT_FSIZE) so that writes past `bytes` fail with
// EFBIG instead of raising SIGXFSZ; restores both on destruction.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = std::signal(SIGXFSZ, SIG_IGN);
    rlimit lowered = saved_;
    lowered.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &lowered), 0);
  }
  ~FileSizeLimit() {
    setrlimit(RLIMIT_FSIZE, &saved_);
    std::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  void (*previous_handler_)(int) = nullptr;
};

}  // namespace

TEST(AtomicWrite, MissingDirectoryIsAClearErrorAndLeavesNothing) {
  ScratchDir dir;
  const auto path = dir / "no-such-dir" / "w.safetensors";
  expect_file_error([&] { io::save_safetensors(path, {{"w", zeros({2})}}); }, "save_safetensors", path,
                    "No such file or directory (does the directory '" + (dir / "no-such-dir").string() + "' exist?)");
  expect_file_error([&] { io::save_npy(dir / "no-such-dir" / "x.npy", zeros({2})); }, "save_npy",
                    dir / "no-such-dir" / "x.npy", "cannot create the temporary file");
  EXPECT_TRUE(dir.entries().empty());
}

TEST(AtomicWrite, SuccessLeavesOnlyTheFile) {
  ScratchDir dir;
  io::save_safetensors(dir / "w.safetensors", {{"w", zeros({2})}});
  io::save_npy(dir / "x.npy", zeros({2}));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"w.safetensors", "x.npy"}));
}

TEST(AtomicWrite, OverwritesAnExistingFileWhole) {
  ScratchDir dir;
  const auto path = dir / "x.npy";
  io::save_npy(path, test::random({64, 64}, 1, DType::F64));
  io::save_npy(path, from_data({1.0f, 2.0f}));
  test::expect_near(io::load_npy(path), {2}, {1, 2}, 0);
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"x.npy"});
}

TEST(AtomicWrite, FailedWriteKeepsTheOldFileAndRemovesTheTemporary) {
  ScratchDir dir;
  const auto st = dir / "w.safetensors", np = dir / "x.npy";
  io::save_safetensors(st, {{"old", from_data({1.0f})}});
  io::save_npy(np, from_data({1.0f}));
  const std::string old_st = read_bytes(st), old_np = read_bytes(np);
  {
    const FileSizeLimit limit(4096);  // the 64 KiB of data below cannot be written
    const Tensor big = zeros({128, 128});
    expect_file_error([&] { io::save_safetensors(st, {{"new", big}}); }, "save_safetensors", st, "File too large");
    expect_file_error([&] { io::save_npy(np, big); }, "save_npy", np, "File too large");
  }
  EXPECT_EQ(read_bytes(st), old_st);
  EXPECT_EQ(read_bytes(np), old_np);
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"w.safetensors", "x.npy"}));
}

TEST(AtomicWrite, DestinationThatIsADirectory) {
  ScratchDir dir;
  std::filesystem::create_directory(dir / "taken.npy");
  expect_file_error([&] { io::save_npy(dir / "taken.npy", zeros({2})); }, "save_npy", dir / "taken.npy",
                    "exists and is a directory; Strata writes only a new file or over a regular file");
  EXPECT_EQ(dir.entries(), std::vector<std::string>{"taken.npy"});
}

// Issue 22, defect 7: a symbolic link or a device was replaced by a regular file (as root, a
// system device file). Only a new name or a regular file is written.
TEST(AtomicWrite, DestinationThatIsALinkOrADeviceIsLeftAlone) {
  ScratchDir dir;
  io::save_npy(dir / "target.npy", zeros({2}));
  std::filesystem::create_symlink(dir / "target.npy", dir / "link.npy");
  expect_file_error([&] { io::save_npy(dir / "link.npy", zeros({3})); }, "save_npy", dir / "link.npy",
                    "exists and is a symbolic link");
  EXPECT_TRUE(std::filesystem::is_symlink(dir / "link.npy"));
  EXPECT_EQ(io::load_npy(dir / "target.npy").shape(), Shape({2}));
  expect_file_error([&] { io::save_npy("/dev/null", zeros({3})); }, "save_npy", "/dev/null", "exists and is a device");
  EXPECT_TRUE(std::filesystem::is_character_file("/dev/null"));
  EXPECT_EQ(dir.entries(), (std::vector<std::string>{"link.npy", "target.npy"}));
}
