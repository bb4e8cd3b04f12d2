// Checked file access for the io formats: every failing call becomes a strata::Error naming the
// operation, the path and the system's reason (errno text).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace strata::io {

// "load_npy: 'x.npy': " — the prefix every message about one file starts with.
std::string file_prefix(const char* op, const std::filesystem::path& path);

// A regular file opened for reading, with its size taken when opened.
class InputFile {
 public:
  InputFile(const std::filesystem::path& path, const char* op);
  ~InputFile();
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;

  uint64_t size() const { return size_; }
  // Reads exactly n bytes starting at byte `offset`; throws if the file ends first.
  void read(uint64_t offset, void* dst, std::size_t n) const;
  // Prefix for messages about this file ("load_npy: 'x.npy': ").
  const std::string& prefix() const { return prefix_; }

 private:
  std::string prefix_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// Writes a new file beside `path` (same directory, unique temporary name "<path>.tmp.<pid>.<n>")
// and renames it onto `path` in commit(), so `path` is either untouched or complete, never
// half-written: the data is flushed to disk before the rename, the directory after it. If the
// object is destroyed without commit() (an exception on the way), the temporary is removed.
// `path` must be a new name or a regular file (never a symbolic link, device or FIFO, which the
// rename would replace).
class AtomicOutputFile {
 public:
  AtomicOutputFile(const std::filesystem::path& path, const char* op);
  ~AtomicOutputFile();
  AtomicOutputFile(const AtomicOutputFile&) = delete;
  AtomicOutputFile& operator=(const AtomicOutputFile&) = delete;

  void write(const void* data, std::size_t n);
  // Flushes to disk, closes and renames the temporary onto the destination.
  void commit();

 private:
  void discard() noexcept;
  std::string prefix_;
  std::filesystem::path path_;
  std::filesystem::path temp_;
  int fd_ = -1;
};

// Removes the temporaries that killed processes left in `dir` ("<name>.tmp.<pid>.<n>"); call it
// only while no other process writes there (train/run_lock.hpp). Returns how many it removed.
int remove_stale_temporaries(const std::filesystem::path& dir);

}  // namespace strata::io
