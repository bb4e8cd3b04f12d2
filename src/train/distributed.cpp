#include "train/distributed.hpp"

#include <nlohmann/json.hpp>
#include <vector>

#include "strata/error.hpp"

namespace strata::train {
namespace {

// The config as JSON without the fields ranks may hold differently, and the data summary.
nlohmann::json comparable(const TrainConfig& config, const DataSummary& data) {
  nlohmann::json j = nlohmann::json::parse(config_to_json(config));
  for (const char* local : {"threads", "workers", "data_dir", "out_dir", "overwrite"}) j.erase(local);
  j["train_examples"] = data.train_examples;
  j["test_examples"] = data.test_examples;
  j["classes"] = data.classes;
  j["input"] = std::vector<int64_t>(data.input.begin(), data.input.end());
  return j;
}

}  // namespace

void check_same_run(dist::Communicator& comm, const TrainConfig& config, const DataSummary& data) {
  if (comm.size() == 1) return;
  const nlohmann::json mine = comparable(config, data);
  dist::check_same_on_all_ranks(comm, "the training configuration or data", mine.dump(), [&](const std::string& rank0) {
    const nlohmann::json theirs = nlohmann::json::parse(rank0);
    std::string fields;
    for (const auto& [key, value] : theirs.items())
      if (!mine.contains(key) || mine[key] != value)
        fields += detail::cat(fields.empty() ? "" : "; ", key, " is ", mine.contains(key) ? mine[key].dump() : "absent",
                              " on rank ", comm.rank(), " but ", value.dump(), " on rank 0");
    return fields + "; start every rank with the same options and the same dataset";
  });
}

void all_reduce(dist::Communicator& comm, Evaluation& evaluation) {
  if (comm.size() == 1) return;
  std::vector<double> counts;
  for (const auto& row : evaluation.confusion)
    for (int64_t v : row) counts.push_back(static_cast<double>(v));
  comm.all_reduce_sum(counts);  // exact: counts stay far below 2^53
  std::size_t i = 0;
  for (auto& row : evaluation.confusion)
    for (int64_t& v : row) v = static_cast<int64_t>(counts[i++]);
}

}  // namespace strata::train
