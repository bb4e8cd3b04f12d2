// Helpers for the io tests: a scratch directory, raw file bytes, and error checks that also
// require the message to name the file.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include "strata/error.hpp"

namespace strata::test {

// A fresh directory under the system's temporary directory, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    std::random_device seed;
    path_ = std::filesystem::temp_directory_path() / ("strata-io-test-" + std::to_string(seed()) + std::to_string(seed()));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() { std::filesystem::remove_all(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }
  const std::filesystem::path& path() const { return path_; }
  // Names of the entries in the directory, sorted.
  std::vector<std::string> entries() const {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(path_)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

 private:
  std::filesystem::path path_;
};

inline std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot read " << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// `n` as 8 little-endian bytes.
inline std::string le64(uint64_t n) {
  std::string s(8, '\0');
  for (int i = 0; i < 8; ++i) s[i] = static_cast<char>(n >> (8 * i) & 0xff);
  return s;
}

inline std::filesystem::path data_file(const std::string& name) {
  return std::filesystem::path(STRATA_TEST_FIXTURES_DIR) / "io" / name;
}

// Expects fn() to throw a strata::Error that starts with "<op>: '<path>': " and contains `fragment`.
template <class F>
void expect_file_error(F&& fn, const std::string& op, const std::filesystem::path& path, const std::string& fragment) {
  const std::string prefix = op + ": '" + path.string() + "': ";
  try {
    fn();
    ADD_FAILURE() << "expected an error containing: " << fragment;
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.rfind(prefix, 0), 0u) << "message: " << message << "\nexpected to start with: " << prefix;
    EXPECT_NE(message.find(fragment), std::string::npos) << "message: " << message << "\nexpected to contain: " << fragment;
  }
}

}  // namespace strata::test
