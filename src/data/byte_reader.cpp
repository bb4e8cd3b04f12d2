#include "data/byte_reader.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

namespace strata::data {
namespace {

constexpr std::size_t kInputChunk = std::size_t{1} << 16;   // compressed bytes read at a time
constexpr std::size_t kFirstGrowth = std::size_t{1} << 20;  // read_up_to's first allocation (gzip)
constexpr std::size_t kMaxInflate = std::size_t{1} << 30;   // fits zlib's 32-bit avail_out

}  // namespace

ByteReader::ByteReader(std::filesystem::path path, std::string hint) : path_(std::move(path)), hint_(std::move(hint)) {
  std::error_code ec;
  if (!std::filesystem::exists(path_, ec)) fail("not found");
  if (!std::filesystem::is_regular_file(path_, ec)) fail("not a regular file");
  file_size_ = std::filesystem::file_size(path_, ec);
  if (ec) fail("cannot read its size (", ec.message(), ")");
  file_.reset(std::fopen(path_.c_str(), "rb"));
  if (!file_) fail("cannot open (", std::strerror(errno), ")");

  uint8_t magic[2] = {0, 0};
  const std::size_t got = read_raw(magic, 2);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    stream_ = std::make_unique<z_stream_s>();
    // 16 + MAX_WBITS: expect a gzip header and trailer (CRC-32 and length are checked).
    if (inflateInit2(stream_.get(), 16 + MAX_WBITS) != Z_OK) {
      stream_.reset();
      fail("cannot start gzip decompression (zlib inflateInit2 failed)");
    }
    input_.assign(magic, magic + 2);
    input_.reserve(kInputChunk);
    stream_->next_in = input_.data();
    stream_->avail_in = 2;
  } else if (std::fseek(file_.get(), 0, SEEK_SET) != 0) {
    fail("cannot seek (", std::strerror(errno), ")");
  } else {
    position_ = 0;
  }
}

ByteReader::~ByteReader() {
  if (stream_) inflateEnd(stream_.get());
}

std::size_t ByteReader::read(void* dst, std::size_t n) { return stream_ ? read_gzip(dst, n) : read_raw(dst, n); }

std::size_t ByteReader::read_raw(void* dst, std::size_t n) {
  const std::size_t got = std::fread(dst, 1, n, file_.get());
  if (got < n && std::ferror(file_.get())) fail("read error (", std::strerror(errno), ")");
  position_ += got;
  return got;
}

std::size_t ByteReader::read_gzip(void* dst, std::size_t n) {
  z_stream_s& z = *stream_;
  auto* out = static_cast<uint8_t*>(dst);
  std::size_t produced = 0;
  // Refills the input from the file; false at the end of the file.
  auto refill = [&] {
    input_.resize(kInputChunk);
    const std::size_t got = std::fread(input_.data(), 1, kInputChunk, file_.get());
    if (got == 0 && std::ferror(file_.get())) fail("read error (", std::strerror(errno), ")");
    input_.resize(got);
    position_ += got;
    z.next_in = input_.data();
    z.avail_in = static_cast<uInt>(got);
    return got > 0;
  };
  while (produced < n && !ended_) {
    if (z.avail_in == 0 && !refill()) fail("the gzip data ends early (the file is truncated)");
    const std::size_t chunk = std::min(n - produced, kMaxInflate);
    z.next_out = out + produced;
    z.avail_out = static_cast<uInt>(chunk);
    const int ret = inflate(&z, Z_NO_FLUSH);
    produced += chunk - z.avail_out;
    if (ret == Z_STREAM_END) {
      // The end of one gzip member: the data ends here unless another member follows.
      if (z.avail_in == 0 && !refill()) {
        ended_ = true;
      } else if (inflateReset(&z) != Z_OK) {
        fail("cannot continue gzip decompression (zlib inflateReset failed)");
      }
    } else if (ret == Z_DATA_ERROR || ret == Z_NEED_DICT) {
      fail("corrupt gzip data (zlib: ", z.msg ? z.msg : "invalid data", ")");
    } else if (ret == Z_MEM_ERROR) {
      fail("out of memory while decompressing");
    } else if (ret == Z_BUF_ERROR && z.avail_in > 0) {
      fail("corrupt gzip data (zlib made no progress)");
    }
  }
  return produced;
}

std::vector<uint8_t> ByteReader::read_up_to(std::size_t n) {
  std::vector<uint8_t> out;
  if (!stream_) {
    // The file size bounds the data: allocate once.
    const uint64_t left = file_size_ > position_ ? file_size_ - position_ : 0;
    out.resize(static_cast<std::size_t>(std::min<uint64_t>(n, left)));
    out.resize(read_raw(out.data(), out.size()));
    return out;
  }
  // Unknown decompressed size: grow geometrically with the data actually produced.
  while (out.size() < n) {
    const std::size_t old = out.size();
    const std::size_t target = std::min(n, std::max(old * 2, kFirstGrowth));
    out.resize(target);
    const std::size_t got = read_gzip(out.data() + old, target - old);
    if (got < target - old) {
      out.resize(old + got);
      break;
    }
  }
  return out;
}

uint64_t ByteReader::max_data_left() const {
  const uint64_t left = file_size_ > position_ ? file_size_ - position_ : 0;
  if (!stream_) return left;
  constexpr uint64_t kMaxDeflateRatio = 1032;
  constexpr uint64_t kPending = 1 << 16;  // output zlib may hold back (its window), and the gzip trailer
  return (left + stream_->avail_in) * kMaxDeflateRatio + kPending;
}

bool ByteReader::at_end() {
  uint8_t byte;
  return read(&byte, 1) == 0;
}

std::optional<std::filesystem::path> find_data_file(const std::filesystem::path& dir, const std::string& name) {
  for (const std::string& candidate : {name + ".gz", name}) {
    std::error_code ec;
    std::filesystem::path path = dir / candidate;
    if (std::filesystem::is_regular_file(path, ec)) return path;
  }
  return std::nullopt;
}

}  // namespace strata::data
