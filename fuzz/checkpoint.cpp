// Fuzz harness: training checkpoints (train::load_checkpoint on the input as the whole file): a
// safetensors file whose metadata holds the run's config, the weights metadata, the generator
// state, the best epoch and the metrics history, each JSON parsed and checked.
#include "fuzz_util.hpp"
#include "train/checkpoint.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto path = strata::fuzz::write_scratch("checkpoint.safetensors", strata::fuzz::as_chars(data, size));
  strata::fuzz::expect_strata_errors_only([&] { strata::train::load_checkpoint(path); });
  return 0;
}
