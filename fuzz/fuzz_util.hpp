// What the fuzz harnesses share: a scratch folder for the files a reader opens (the readers take
// paths), and the rule that separates an expected outcome from a finding.
//
// Outcomes of one input: the reader returns, or throws strata::Error (a malformed file, reported
// as the library promises). Anything else is a finding: another exception aborts with its type
// and message (so libFuzzer saves the input as a crash and the regression run fails), and crashes,
// hangs, sanitizer reports and over-limit allocations are caught by libFuzzer and the sanitizers.
#pragma once

#include <stdlib.h>  // mkdtemp

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>
#include <typeinfo>

#include "strata/error.hpp"

namespace strata::fuzz {

// A folder of this process's own, created on first use (under /dev/shm, in memory, where it
// exists; else the system's temporary directory) and removed when the process exits normally.
class ScratchDir {
 public:
  ScratchDir() {
    std::error_code ec;
    const std::filesystem::path base =
        std::filesystem::is_directory("/dev/shm", ec) ? std::filesystem::path("/dev/shm")
                                                      : std::filesystem::temp_directory_path();
    std::string pattern = (base / "strata-fuzz-XXXXXX").string();
    if (!mkdtemp(pattern.data())) {
      std::perror(("mkdtemp " + pattern).c_str());
      std::abort();
    }
    path_ = pattern;
  }
  ~ScratchDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

inline const std::filesystem::path& scratch_dir() {
  static const ScratchDir dir;
  return dir.path();
}

// Empties `sub` (a relative path) under the scratch folder and returns it, created.
inline std::filesystem::path fresh_subdir(const std::filesystem::path& sub) {
  const std::filesystem::path dir = scratch_dir() / sub;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

// Writes `bytes` to `path` (replacing it); a failure aborts (the harness, not the input, is broken).
inline void write_file(const std::filesystem::path& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "fuzz harness: cannot write %s\n", path.c_str());
    std::abort();
  }
}

// Writes bytes to scratch_dir()/name and returns that path.
inline std::filesystem::path write_scratch(const std::string& name, std::string_view bytes) {
  const std::filesystem::path path = scratch_dir() / name;
  write_file(path, bytes);
  return path;
}

inline std::string_view as_chars(const uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// Runs `read`; a strata::Error is an expected outcome, any other exception aborts.
template <class Read>
void expect_strata_errors_only(Read&& read) {
  try {
    read();
  } catch (const strata::Error&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz finding: %s escaped the reader, not strata::Error: %s\n", typeid(e).name(), e.what());
    std::abort();
  } catch (...) {
    std::fprintf(stderr, "fuzz finding: a non-std exception escaped the reader\n");
    std::abort();
  }
}

// Aborts with `what` (a property of a successful read that does not hold).
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "fuzz finding: %s\n", what.c_str());
  std::abort();
}

}  // namespace strata::fuzz
