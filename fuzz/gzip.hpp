// gzip compression (zlib's deflate with a gzip wrapper) for the harnesses that hand a reader
// compressed files, and for the corpus generator.
#pragma once

#include <zlib.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace strata::fuzz {

// One gzip member holding `bytes`, as gzip(1) writes it.
inline std::string gzip(std::string_view bytes) {
  z_stream z{};
  if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    std::fprintf(stderr, "gzip: deflateInit2 failed\n");
    std::abort();
  }
  std::string out(deflateBound(&z, bytes.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
  z.avail_in = static_cast<uInt>(bytes.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int status = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (status != Z_STREAM_END) {
    std::fprintf(stderr, "gzip: deflate did not finish\n");
    std::abort();
  }
  return out;
}

}  // namespace strata::fuzz
