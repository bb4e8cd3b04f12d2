// Fuzz harness: IDX files, raw and gzip-compressed (data::load_idx). The first input byte is a
// set of flags, the rest the file's bytes:
//   bit 0  the rest is gzip-compressed by the harness before the reader sees it (so mutations
//          reach the IDX parser behind gzip), else written as it is (mutations of gzip streams:
//          the reader recognises gzip by its magic bytes 1f 8b, whatever the file's name)
//   bit 1  the rest is the labels file (N), with a fixed valid images file of 2 x 2 x 2; else it
//          is the images file (N x H x W), with a fixed valid labels file of 2 labels
#include <string>

#include "fuzz_util.hpp"
#include "gzip.hpp"
#include "strata/data/dataset.hpp"

namespace {

// 00 00 08 <ndim>, big-endian sizes, then the bytes.
const std::string kImages = std::string("\0\0\x08\x03\0\0\0\x02\0\0\0\x02\0\0\0\x02", 16) + std::string(8, '\x7f');
const std::string kLabels = std::string("\0\0\x08\x01\0\0\0\x02", 8) + std::string("\x01\x00", 2);

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const uint8_t flags = data[0];
  std::string file(strata::fuzz::as_chars(data + 1, size - 1));
  if (flags & 1) file = strata::fuzz::gzip(file);
  const bool is_labels = flags & 2;
  const auto images = strata::fuzz::write_scratch("images-idx3-ubyte", is_labels ? kImages : file);
  const auto labels = strata::fuzz::write_scratch("labels-idx1-ubyte", is_labels ? file : kLabels);
  strata::fuzz::expect_strata_errors_only(
      [&] { strata::data::load_idx(images, labels, strata::data::mnist_class_names()); });
  return 0;
}
