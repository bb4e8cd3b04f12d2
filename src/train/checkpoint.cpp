#include "train/checkpoint.hpp"

#include <bit>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "io/json.hpp"
#include "strata/error.hpp"
#include "train/weights_metadata.hpp"

namespace strata::train {
namespace {

using json = nlohmann::json;

constexpr const char* kVersionKey = "strata.checkpoint.version";
constexpr const char* kVersion = "1";
constexpr const char* kBackendKey = "strata.checkpoint.backend";
constexpr const char* kModelPrefix = "model.";
constexpr const char* kOptimizerPrefix = "optimizer.";

std::string hex(uint64_t v) {
  char buf[19];
  std::snprintf(buf, sizeof buf, "0x%016llx", static_cast<unsigned long long>(v));
  return buf;
}

uint64_t parse_hex(const json& j, const char* key) {
  const std::string s = j.at(key).get<std::string>();
  std::size_t used = 0;
  uint64_t v = 0;
  try {
    v = std::stoull(s, &used, 16);
  } catch (const std::exception&) {
    used = 0;
  }
  STRATA_CHECK(used == s.size() && !s.empty(), "rng ", key, " is not a hex number: '", detail::printable(s, 40), "'");
  return v;
}

json metrics_json(const std::vector<EpochMetrics>& history) {
  json out = json::array();
  for (const EpochMetrics& m : history)
    out.push_back({{"epoch", m.epoch},
                   {"loss", m.loss},
                   {"train_acc", m.train_acc},
                   {"test_acc", m.test_acc},
                   {"examples_per_sec", m.examples_per_sec},
                   {"data_wait_sec", m.data_wait_sec},
                   {"lr", m.lr},
                   {"seconds", m.seconds}});
  return out;
}

std::vector<EpochMetrics> metrics_from_json(const json& j) {
  STRATA_CHECK(j.is_array(), "strata.metrics is not a list");
  std::vector<EpochMetrics> history;
  for (const json& e : j) {
    EpochMetrics m;
    m.epoch = e.at("epoch").get<int64_t>();
    m.loss = e.at("loss").get<double>();
    m.train_acc = e.at("train_acc").get<double>();
    m.test_acc = e.at("test_acc").get<double>();
    m.examples_per_sec = e.at("examples_per_sec").get<double>();
    m.data_wait_sec = e.at("data_wait_sec").get<double>();
    m.lr = e.at("lr").get<double>();
    m.seconds = e.at("seconds").get<double>();
    STRATA_CHECK(m.epoch == static_cast<int64_t>(history.size()) + 1, "strata.metrics lists epoch ", m.epoch,
                 " where epoch ", history.size() + 1, " belongs");
    history.push_back(m);
  }
  return history;
}

}  // namespace

bool is_checkpoint(const io::Metadata& metadata) { return metadata.contains(kVersionKey); }

void save_checkpoint(const std::filesystem::path& path, const Checkpoint& c) {
  io::NamedTensors tensors;
  for (const auto& [name, t] : c.model) tensors.emplace_back(kModelPrefix + name, t.detach());
  for (const auto& [name, t] : c.optimizer) tensors.emplace_back(kOptimizerPrefix + name, t.detach());
  io::Metadata m = to_metadata(c.weights);
  m[kVersionKey] = kVersion;
  m["strata.checkpoint.epoch"] = std::to_string(c.epoch);
  m["strata.checkpoint.rng"] = json{{"state", hex(c.rng.state)},
                                    {"increment", hex(c.rng.increment)},
                                    {"has_spare_normal", c.rng.has_spare_normal},
                                    {"spare_normal", hex(std::bit_cast<uint64_t>(c.rng.spare_normal))}}
                                   .dump();
  m["strata.checkpoint.best"] = json{{"test_acc", c.best_test_acc}, {"epoch", c.best_epoch}}.dump();
  m["strata.config"] = config_to_json(c.config);
  m["strata.metrics"] = metrics_json(c.history).dump();
  m[kBackendKey] = c.backend;
  io::save_safetensors(path, tensors, m);
}

Checkpoint load_checkpoint(const std::filesystem::path& path) {
  const std::string where = "checkpoint '" + path.string() + "': ";
  std::error_code ec;
  STRATA_CHECK(std::filesystem::exists(path, ec), where,
               "not found; --resume takes the output directory of a run that finished at least one epoch");
  io::TensorFile file = io::load_safetensors(path);
  const io::Metadata& m = file.metadata;
  STRATA_CHECK(is_checkpoint(m), where, "has no ", kVersionKey, " metadata; it is not a Strata training checkpoint");
  STRATA_CHECK(m.at(kVersionKey) == kVersion, where, "is version '", detail::printable(m.at(kVersionKey), 40), "'",
               " but this Strata reads version ", kVersion);
  Checkpoint c;
  auto get = [&](const char* key) -> const std::string& {
    auto it = m.find(key);
    if (it == m.end()) fail(where, "the metadata lacks ", key, "; the file is damaged");
    return it->second;
  };
  try {
    c.config = config_from_json(get("strata.config"));
    c.weights = parse_weights_info(m, "", "");
  } catch (const Error& e) {
    fail(where, e.what());
  }
  try {
    const std::string& epoch = get("strata.checkpoint.epoch");
    std::size_t used = 0;
    c.epoch = std::stoll(epoch, &used);
    STRATA_CHECK(used == epoch.size(), where, "strata.checkpoint.epoch is not a number: '", detail::printable(epoch, 40), "'");
    const json rng = io::parse_json(get("strata.checkpoint.rng"), where, "strata.checkpoint.rng");
    c.rng.state = parse_hex(rng, "state");
    c.rng.increment = parse_hex(rng, "increment");
    c.rng.has_spare_normal = rng.at("has_spare_normal").get<bool>();
    c.rng.spare_normal = std::bit_cast<double>(parse_hex(rng, "spare_normal"));
    const json best = io::parse_json(get("strata.checkpoint.best"), where, "strata.checkpoint.best");
    c.best_test_acc = best.at("test_acc").get<double>();
    c.best_epoch = best.at("epoch").get<int64_t>();
    c.history = metrics_from_json(io::parse_json(get("strata.metrics"), where, "strata.metrics"));
  } catch (const json::exception& e) {
    fail(where, "malformed metadata (", e.what(), "); the file is damaged");
  } catch (const std::logic_error& e) {  // std::stoll
    fail(where, "malformed metadata (", e.what(), "); the file is damaged");
  }
  if (const auto it = m.find(kBackendKey); it != m.end()) c.backend = it->second;
  STRATA_CHECK(c.epoch >= 1 && c.epoch == static_cast<int64_t>(c.history.size()), where, "records ", c.epoch,
               " completed epochs but metrics for ", c.history.size(), "; the file is damaged");
  STRATA_CHECK(c.best_epoch >= 1 && c.best_epoch <= c.epoch, where, "names epoch ", c.best_epoch, " as the best of ",
               c.epoch, "; the file is damaged");
  for (auto& [name, t] : file.tensors) {
    if (name.starts_with(kModelPrefix)) {
      c.model.emplace_back(name.substr(std::char_traits<char>::length(kModelPrefix)), t);
    } else if (name.starts_with(kOptimizerPrefix)) {
      c.optimizer.emplace_back(name.substr(std::char_traits<char>::length(kOptimizerPrefix)), t);
    } else {
      fail(where, "tensor '", detail::printable(name), "' is neither model.* nor optimizer.*; the file is damaged");
    }
  }
  return c;
}

}  // namespace strata::train
