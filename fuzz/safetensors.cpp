// Fuzz harness: safetensors files (io::load_safetensors and io::read_safetensors_metadata, both on
// the input as the whole file). Covers the 8-byte header length, the JSON header (dtypes, shapes,
// data offsets, "__metadata__"), the checks of offsets against the file size and the widening of
// F16, BF16 and the narrow integer dtypes.
#include "fuzz_util.hpp"
#include "strata/io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto path = strata::fuzz::write_scratch("input.safetensors", strata::fuzz::as_chars(data, size));
  strata::fuzz::expect_strata_errors_only([&] { strata::io::load_safetensors(path); });
  strata::fuzz::expect_strata_errors_only([&] { strata::io::read_safetensors_metadata(path); });
  return 0;
}
