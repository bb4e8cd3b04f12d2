// The lock of a run directory: one process (one `strata train`, new or resumed) writes a run
// directory at a time; a second one is refused at once instead of both writing a mixed directory.
// Within one process the lock is shared (a trainer resumed while the interrupted one exists).
#pragma once

#include <filesystem>
#include <string>

namespace strata::train {

class RunLock {
 public:
  RunLock() = default;
  // Creates `dir` if needed and takes its lock (flock on the directory, released when the last
  // RunLock of this process on it is destroyed or the process ends, killed or not); an Error if
  // another process holds it. On taking it, removes the temporaries killed writers left there.
  explicit RunLock(const std::filesystem::path& dir);
  ~RunLock();
  RunLock(RunLock&& other) noexcept;
  RunLock& operator=(RunLock&& other) noexcept;

 private:
  void release() noexcept;
  std::string key_;  // the directory's canonical path; empty: holds nothing
};

}  // namespace strata::train
