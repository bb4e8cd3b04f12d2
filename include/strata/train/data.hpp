// The datasets a training run reads and the loaders it iterates them with.
#pragma once
#pragma GCC visibility push(default)

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

// The same split as a data::Dataset: Fashion-MNIST, MNIST and CIFAR-10 read into memory; a
// folder listed and decoded on demand (data::ImageFolderDataset), resized to size x size as each
// image is decoded (0: the images' own size).
data::DatasetPtr open_split(DatasetKind dataset, const std::filesystem::path& dir, data::Split split,
                            int64_t channels = 3, int64_t size = 0);

// The two splits a run trains and evaluates on: any data::Dataset (in memory, an image folder
// decoded on demand, or a user's own).
struct TrainData {
  data::DatasetPtr train;
  data::DatasetPtr test;
};

// Both splits of config.dataset (open_split), resized to config.resize; a folder's images keep
// their own size when image transforms run first. With config.val_split, the training split cut
// in two (data::split_dataset).
TrainData load_data(const TrainConfig& config);

// Per-channel mean and standard deviation of the first `limit` images (0: all) scaled to [0, 1].
struct ChannelStats {
  std::vector<float> mean, std;
};
ChannelStats channel_stats(const data::ImageDataset& dataset, int64_t limit = 0);
// The same over any dataset: exact for an in-memory one; otherwise over at most
// kMaxStatsExamples examples spread evenly over the first `limit` (0: all), as decoded.
inline constexpr int64_t kMaxStatsExamples = 2000;
ChannelStats channel_stats(const data::Dataset& dataset, int64_t limit = 0);

// The per-example transform of the config: augmentation when `train` and config.augment,
// resize to config.resize, normalisation with config.mean/std.
data::Transform make_transform(const TrainConfig& config, bool train);
// The image transforms of the config (config.train_transforms or eval_transforms, parsed).
data::ImageTransforms make_image_transforms(const TrainConfig& config, bool train);

}  // namespace strata::train

#pragma GCC visibility pop
