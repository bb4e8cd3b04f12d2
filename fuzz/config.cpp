// Fuzz harness: run configurations (train::config_from_json on the input as the JSON text). A
// config that reads back must also survive the round trip config_to_json -> config_from_json
// unchanged (config.hpp's promise); a difference or an error on the way back is a finding.
#include <exception>
#include <optional>

#include "fuzz_util.hpp"
#include "strata/train/config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  using strata::train::TrainConfig;
  std::optional<TrainConfig> config;
  strata::fuzz::expect_strata_errors_only(
      [&] { config = strata::train::config_from_json(strata::fuzz::as_chars(data, size)); });
  if (!config) return 0;
  const std::string json = strata::train::config_to_json(*config);
  TrainConfig back;
  try {
    back = strata::train::config_from_json(json);
  } catch (const std::exception& e) {
    strata::fuzz::finding(std::string("config_from_json refused what config_to_json wrote: ") + e.what() + "\n" + json);
  }
  if (!(back == *config)) strata::fuzz::finding("config_to_json then config_from_json changed the config:\n" + json);
  return 0;
}
