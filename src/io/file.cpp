#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <regex>
#include <system_error>

#include "strata/error.hpp"

namespace strata::io {
namespace {

std::string errno_text(int err) { return std::error_code(err, std::system_category()).message(); }

std::atomic<unsigned> temp_counter{0};

// What an existing file that must not be replaced is, for messages.
const char* kind_of(mode_t mode) {
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

// Crash testing (tests/train/crash_test.cpp): with STRATA_CRASH_AT=N in the environment, the
// process kills itself with SIGKILL at the Nth step of its atomic writes (counted over the
// process: the temporary created, each write, flushed, renamed, the directory flushed).
void crash_point() {
  static const long crash_at = [] {
    const char* env = std::getenv("STRATA_CRASH_AT");
    return env ? std::strtol(env, nullptr, 10) : 0L;
  }();
  static std::atomic<long> steps{0};
  if (crash_at > 0 && ++steps == crash_at) ::kill(::getpid(), SIGKILL);
}

// Flushes the directory entry of a rename to disk. Filesystems that cannot sync a directory
// (EINVAL) keep their own guarantees.
void sync_directory(const std::filesystem::path& dir, const std::string& prefix) {
  const int fd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) fail(prefix, "cannot open its directory to flush the rename: ", errno_text(errno));
  const int rc = ::fsync(fd);
  const int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) fail(prefix, "flushing its directory to disk failed: ", errno_text(err));
}

}  // namespace

std::string file_prefix(const char* op, const std::filesystem::path& path) {
  return detail::cat(op, ": '", path.string(), "': ");
}

// ---- InputFile ----

InputFile::InputFile(const std::filesystem::path& path, const char* op) : prefix_(file_prefix(op, path)) {
  // O_NONBLOCK: opening a FIFO for reading would wait for a writer; it is refused below instead
  // (for a regular file the flag changes nothing).
  fd_ = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd_ < 0) fail(prefix_, "cannot open for reading: ", errno_text(errno));
  struct stat st {};
  if (::fstat(fd_, &st) != 0) {
    const int err = errno;
    ::close(fd_);
    fail(prefix_, "cannot query the file size: ", errno_text(err));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd_);
    fail(prefix_, "is not a regular file");
  }
  size_ = static_cast<uint64_t>(st.st_size);
}

InputFile::~InputFile() { ::close(fd_); }

void InputFile::read(uint64_t offset, void* dst, std::size_t n) const {
  auto* out = static_cast<char*>(dst);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd_, out + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      fail(prefix_, "reading ", n, " bytes at offset ", offset, " failed: ", errno_text(errno));
    }
    if (got == 0)
      fail(prefix_, "the file ended at byte ", offset + done, " while reading ", n, " bytes at offset ",
           offset, " (was it changed while being read?)");
    done += static_cast<std::size_t>(got);
  }
}

// ---- AtomicOutputFile ----

AtomicOutputFile::AtomicOutputFile(const std::filesystem::path& path, const char* op)
    : prefix_(file_prefix(op, path)), path_(path) {
  // The rename would replace a device node, FIFO or symbolic link with a regular file.
  struct stat st {};
  if (::lstat(path_.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
    fail(prefix_, "exists and is ", kind_of(st.st_mode), "; Strata writes only a new file or over a regular file");
  // O_EXCL with a name unique to this process and call; mode 0666 lets the umask decide the
  // final permissions, as for any newly created file.
  for (int attempt = 0; fd_ < 0; ++attempt) {
    temp_ = path_;
    temp_ += detail::cat(".tmp.", ::getpid(), ".", temp_counter.fetch_add(1));
    fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ >= 0) break;
    const int err = errno;
    if (err == EEXIST && attempt < 100) continue;
    std::string hint;
    const std::filesystem::path dir = path_.parent_path();
    if (err == ENOENT && !dir.empty()) hint = detail::cat(" (does the directory '", dir.string(), "' exist?)");
    fail(prefix_, "cannot create the temporary file '", temp_.string(), "': ", errno_text(err), hint);
  }
  crash_point();
}

AtomicOutputFile::~AtomicOutputFile() { discard(); }

void AtomicOutputFile::discard() noexcept {
  if (fd_ < 0) return;
  ::close(fd_);
  fd_ = -1;
  ::unlink(temp_.c_str());
}

void AtomicOutputFile::write(const void* data, std::size_t n) {
  const auto* in = static_cast<const char*>(data);
  std::size_t done = 0;
  while (done < n) {
    const ssize_t put = ::write(fd_, in + done, n - done);
    if (put < 0) {
      if (errno == EINTR) continue;
      const int err = errno;
      discard();
      fail(prefix_, "writing the temporary file '", temp_.string(), "' failed: ", errno_text(err));
    }
    done += static_cast<std::size_t>(put);
  }
  crash_point();
}

void AtomicOutputFile::commit() {
  if (::fsync(fd_) != 0) {
    const int err = errno;
    discard();
    fail(prefix_, "flushing the temporary file '", temp_.string(), "' to disk failed: ", errno_text(err));
  }
  crash_point();
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) {
    const int err = errno;
    ::unlink(temp_.c_str());
    fail(prefix_, "closing the temporary file '", temp_.string(), "' failed: ", errno_text(err));
  }
  if (::rename(temp_.c_str(), path_.c_str()) != 0) {
    const int err = errno;
    ::unlink(temp_.c_str());
    fail(prefix_, "renaming the temporary file '", temp_.string(), "' onto it failed: ", errno_text(err));
  }
  crash_point();
  sync_directory(path_.parent_path(), prefix_);
  crash_point();
}

int remove_stale_temporaries(const std::filesystem::path& dir) {
  static const std::regex temporary(R"(.+\.tmp\.[0-9]+\.[0-9]+)");
  int removed = 0;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::error_code type_ec;
    if (entry.is_regular_file(type_ec) && std::regex_match(entry.path().filename().string(), temporary))
      removed += std::filesystem::remove(entry.path(), type_ec) ? 1 : 0;
  }
  return removed;
}

}  // namespace strata::io
