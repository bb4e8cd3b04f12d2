// The datasets of a training run, their normalisation statistics and the loaders' transforms.
#include "strata/train/data.hpp"

#include <cmath>

#include "strata/error.hpp"

namespace strata::train {

std::filesystem::path default_data_dir(DatasetKind dataset) {
  switch (dataset) {
    case DatasetKind::FashionMnist:
      return data::default_data_dir("fashion-mnist");
    case DatasetKind::Mnist:
      return data::default_data_dir("mnist");
    case DatasetKind::Cifar10:
      return data::default_data_dir("cifar-10");
    case DatasetKind::Folder:
      return {};
  }
  return {};
}

data::ImageDataset load_split(DatasetKind dataset, const std::filesystem::path& dir, data::Split split,
                              int64_t channels, int64_t size) {
  const std::filesystem::path from = dir.empty() ? default_data_dir(dataset) : dir;
  switch (dataset) {
    case DatasetKind::FashionMnist:
      return data::load_fashion_mnist(from, split);
    case DatasetKind::Mnist:
      return data::load_mnist(from, split);
    case DatasetKind::Cifar10:
      return data::load_cifar10(from, split);
    case DatasetKind::Folder: {
      STRATA_CHECK(!dir.empty(),
                   "the folder dataset needs --data DIR holding DIR/train/<class>/<image> and "
                   "DIR/test/<class>/<image> (or DIR/<class>/<image> with --val-split)");
      const data::ImageFolderOptions options{.channels = static_cast<int>(channels), .height = size, .width = size};
      return data::load_image_folder(dir / data::split_name(split), options);
    }
  }
  fail("load_split: unknown dataset");
}

TrainData load_data(const TrainConfig& config) {
  TrainData d;
  if (config.val_split > 0.0) {
    // A folder without a train/ sub-folder is all training data.
    std::error_code ec;
    const bool whole_folder = config.dataset == DatasetKind::Folder && !config.data_dir.empty() &&
                              !std::filesystem::is_directory(config.data_dir / "train", ec);
    const data::ImageDataset all =
        whole_folder ? data::load_image_folder(config.data_dir, {.channels = static_cast<int>(config.folder_channels),
                                                                 .height = config.resize,
                                                                 .width = config.resize})
                     : load_split(config.dataset, config.data_dir, data::Split::Train, config.folder_channels,
                                  config.resize);
    auto [train, test] = data::split_dataset(all, config.val_split, config.seed);
    d.train = std::make_shared<const data::ImageDataset>(std::move(train));
    d.test = std::make_shared<const data::ImageDataset>(std::move(test));
    return d;
  }
  d.train = std::make_shared<const data::ImageDataset>(
      load_split(config.dataset, config.data_dir, data::Split::Train, config.folder_channels, config.resize));
  d.test = std::make_shared<const data::ImageDataset>(
      load_split(config.dataset, config.data_dir, data::Split::Test, config.folder_channels, config.resize));
  return d;
}

ChannelStats channel_stats(const data::ImageDataset& ds, int64_t limit) {
  ds.validate();
  const int64_t n = limit > 0 ? std::min(limit, ds.size()) : ds.size();
  STRATA_CHECK(n > 0, "channel_stats: the dataset is empty");
  const int64_t plane = ds.height * ds.width;
  ChannelStats stats;
  for (int64_t c = 0; c < ds.channels; ++c) {
    // Integer sums are exact, so the result does not depend on the order.
    uint64_t sum = 0, sum_sq = 0;
    for (int64_t i = 0; i < n; ++i) {
      const uint8_t* p = ds.pixels.data() + (i * ds.channels + c) * plane;
      for (int64_t k = 0; k < plane; ++k) {
        sum += p[k];
        sum_sq += uint64_t{p[k]} * p[k];
      }
    }
    const double count = static_cast<double>(n * plane);
    const double mean = static_cast<double>(sum) / count;
    const double var = std::max(static_cast<double>(sum_sq) / count - mean * mean, 0.0);
    stats.mean.push_back(static_cast<float>(mean / 255.0));
    // A constant channel would divide by 0: use 1 (only the mean is removed).
    stats.std.push_back(var > 0.0 ? static_cast<float>(std::sqrt(var) / 255.0) : 1.0f);
  }
  return stats;
}

data::Transform make_transform(const TrainConfig& config, bool train) {
  data::Transform t;
  if (train && config.augment) {
    t.crop_padding = config.crop_padding;
    t.flip_probability = 0.5;
  }
  t.resize_height = t.resize_width = config.resize;
  t.mean = config.mean;
  t.std = config.std;
  return t;
}

}  // namespace strata::train
