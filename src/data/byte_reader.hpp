// Sequential reading of a data file, raw or gzip-compressed. Compression is recognised by the gzip
// magic bytes (1f 8b), whatever the file is called; concatenated gzip members are read as one
// stream, and zlib checks each member's CRC. Every failure is a strata::Error that names the file
// and ends with the caller's hint (what to do about it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "strata/error.hpp"

struct z_stream_s;

namespace strata::data {

class ByteReader {
 public:
  // Opens `path`; throws if it cannot be opened.
  ByteReader(std::filesystem::path path, std::string hint);
  ~ByteReader();
  ByteReader(const ByteReader&) = delete;
  ByteReader& operator=(const ByteReader&) = delete;

  const std::filesystem::path& path() const { return path_; }
  bool compressed() const { return stream_ != nullptr; }

  // Reads up to n bytes into dst; returns how many were read, fewer only at the end of the data.
  std::size_t read(void* dst, std::size_t n);
  // Reads up to n bytes (all the data by default) into a vector that grows with the data actually
  // read, so a header claiming more than the file holds never causes a large allocation.
  std::vector<uint8_t> read_up_to(std::size_t n = std::numeric_limits<std::size_t>::max());
  // The most data the rest of the file can hold: its size when raw; when compressed, deflate's
  // largest ratio (1032:1) times the compressed bytes left. A header declaring more is corrupt.
  uint64_t max_data_left() const;
  // True when no data is left (otherwise one byte is consumed); for gzip this also reads and
  // verifies the last member's trailer (CRC and length).
  bool at_end();

  // Throws "PATH: <message>; <hint>".
  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    strata::fail(path_.string(), ": ", args..., "; ", hint_);
  }

 private:
  std::size_t read_raw(void* dst, std::size_t n);
  std::size_t read_gzip(void* dst, std::size_t n);

  std::filesystem::path path_;
  std::string hint_;
  struct FileCloser {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  std::unique_ptr<std::FILE, FileCloser> file_;
  uint64_t file_size_ = 0;
  uint64_t position_ = 0;               // bytes read from the file so far
  std::unique_ptr<z_stream_s> stream_;  // gzip files only
  std::vector<uint8_t> input_;          // compressed bytes read from the file, not yet inflated
  bool ended_ = false;                  // gzip: the last member's trailer has been checked
};

// DIR/name.gz or DIR/name, whichever is a file (the first when both are); nothing when neither.
std::optional<std::filesystem::path> find_data_file(const std::filesystem::path& dir, const std::string& name);

}  // namespace strata::data
