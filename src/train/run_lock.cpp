#include "train/run_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <mutex>
#include <system_error>
#include <utility>

#include "io/file.hpp"
#include "strata/error.hpp"

namespace strata::train {
namespace {

// The directories this process has locked, by canonical path: the lock is the process's (a
// trainer resumed while the interrupted one still exists shares it), other processes are refused.
struct HeldLock {
  int fd = -1;
  int holders = 0;
};
std::mutex held_mutex;
std::map<std::string, HeldLock> held;

std::string errno_text(int err) { return std::error_code(err, std::system_category()).message(); }

}  // namespace

RunLock::RunLock(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  STRATA_CHECK(!ec, "train: cannot create the output directory ", dir.string(), ": ", ec.message());
  const std::string key = std::filesystem::canonical(dir, ec).string();
  STRATA_CHECK(!ec, "train: cannot resolve the output directory ", dir.string(), ": ", ec.message());

  const std::lock_guard<std::mutex> guard(held_mutex);
  HeldLock& lock = held[key];
  if (lock.holders == 0) {
    lock.fd = ::open(key.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const int err = lock.fd < 0 ? errno : ::flock(lock.fd, LOCK_EX | LOCK_NB) != 0 ? errno : 0;
    if (err != 0) {
      if (lock.fd >= 0) ::close(lock.fd);
      held.erase(key);
      if (err == EWOULDBLOCK)
        fail("train: ", dir.string(), " is in use by another strata train (it holds the directory's lock); wait ",
             "for it to finish, or choose another --out");
      fail("train: cannot lock the output directory ", dir.string(), ": ", errno_text(err));
    }
    io::remove_stale_temporaries(dir);
  }
  ++lock.holders;
  key_ = key;
}

RunLock::~RunLock() { release(); }

RunLock::RunLock(RunLock&& other) noexcept : key_(std::exchange(other.key_, {})) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
  if (this != &other) {
    release();
    key_ = std::exchange(other.key_, {});
  }
  return *this;
}

void RunLock::release() noexcept {
  if (key_.empty()) return;
  const std::lock_guard<std::mutex> guard(held_mutex);
  const auto it = held.find(key_);
  if (it != held.end() && --it->second.holders == 0) {
    ::close(it->second.fd);  // releases the flock
    held.erase(it);
  }
  key_.clear();
}

}  // namespace strata::train
