#include "io/file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <system_error>

#include "strata/error.hpp"

namespace strata::io {
namespace {

std::string errno_text(int err) { return std::error_code(err, std::system_category()).message(); }

std::atomic<unsigned> temp_counter{0};

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
}

void AtomicOutputFile::commit() {
  if (::fsync(fd_) != 0) {
    const int err = errno;
    discard();
    fail(prefix_, "flushing the temporary file '", temp_.string(), "' to disk failed: ", errno_text(err));
  }
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
}

}  // namespace strata::io
