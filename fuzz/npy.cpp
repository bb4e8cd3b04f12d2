// Fuzz harness: .npy files (io::load_npy on the input as the whole file). Covers the magic and
// version, the header length of each version, the Python-dict header ('descr', 'fortran_order',
// 'shape'), the dtypes and their widening, and the shape's size against the file's.
#include "fuzz_util.hpp"
#include "strata/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto path = strata::fuzz::write_scratch("input.npy", strata::fuzz::as_chars(data, size));
  strata::fuzz::expect_strata_errors_only([&] { strata::io::load_npy(path); });
  return 0;
}
