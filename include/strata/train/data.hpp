// The datasets a training run reads and the loaders it iterates them with.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>

#include "strata/data.hpp"
#include "strata/train/config.hpp"

namespace strata::train {

// Where a dataset is found without --data: data::default_data_dir() of "fashion-mnist", "mnist"
// or "cifar-10"; empty for a folder dataset, which has no default.
std::filesystem::path default_data_dir(DatasetKind dataset);

// One split of a dataset: Fashion-MNIST, MNIST and CIFAR-10 from `dir` (empty: the default
// above), a folder dataset from dir/train or dir/test, decoded to `channels` (1 or 3) and resized
// to size x size at load time (0: the images' own size, the same for all).
data::ImageDataset load_split(DatasetKind dataset, const std::filesystem::path& dir, data::Split split,
                              int64_t channels = 3, int64_t size = 0);

struct TrainData {
  std::shared_ptr<const data::ImageDataset> train;
  std::shared_ptr<const data::ImageDataset> test;
};

// Both splits of config.dataset; checks that they agree on the image shape and the classes.
TrainData load_data(const TrainConfig& config);

// Per-channel mean and standard deviation of the first `limit` images (0: all) scaled to [0, 1].
struct ChannelStats {
  std::vector<float> mean, std;
};
ChannelStats channel_stats(const data::ImageDataset& dataset, int64_t limit = 0);

// The per-example transform of the config: augmentation when `train` and config.augment,
// resize to config.resize, normalisation with config.mean/std.
data::Transform make_transform(const TrainConfig& config, bool train);

}  // namespace strata::train
