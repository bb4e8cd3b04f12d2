// The datasets of a training run, their normalisation statistics and the loaders' transforms.
#include "strata/train/data.hpp"

#include <algorithm>
#include <cmath>
#include <tuple>

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

data::DatasetPtr open_split(DatasetKind dataset, const std::filesystem::path& dir, data::Split split,
                            int64_t channels, int64_t size) {
  if (dataset != DatasetKind::Folder)
    return std::make_shared<const data::InMemoryDataset>(
        std::make_shared<const data::ImageDataset>(load_split(dataset, dir, split, channels, size)));
  STRATA_CHECK(!dir.empty(),
               "the folder dataset needs --data DIR holding DIR/train/<class>/<image> and "
               "DIR/test/<class>/<image> (or DIR/<class>/<image> with --val-split)");
  return std::make_shared<const data::ImageFolderDataset>(
      dir / data::split_name(split),
      data::ImageFolderOptions{.channels = static_cast<int>(channels), .height = size, .width = size});
}

TrainData load_data(const TrainConfig& config) {
  // Image transforms take a folder's images at their own size; without them the images are
  // resized as they are decoded.
  const bool transforms = !config.train_transforms.empty() || !config.eval_transforms.empty();
  const int64_t size = config.dataset == DatasetKind::Folder && transforms ? 0 : config.resize;
  TrainData d;
  if (config.val_split > 0.0) {
    // A folder without a train/ sub-folder is all training data.
    std::error_code ec;
    const bool whole_folder = config.dataset == DatasetKind::Folder && !config.data_dir.empty() &&
                              !std::filesystem::is_directory(config.data_dir / "train", ec);
    const data::DatasetPtr all =
        whole_folder ? std::make_shared<const data::ImageFolderDataset>(
                           config.data_dir, data::ImageFolderOptions{.channels = static_cast<int>(config.folder_channels),
                                                                     .height = size,
                                                                     .width = size})
                     : open_split(config.dataset, config.data_dir, data::Split::Train, config.folder_channels, size);
    std::tie(d.train, d.test) = data::split_dataset(all, config.val_split, config.seed);
    return d;
  }
  d.train = open_split(config.dataset, config.data_dir, data::Split::Train, config.folder_channels, size);
  d.test = open_split(config.dataset, config.data_dir, data::Split::Test, config.folder_channels, size);
  return d;
}

namespace {

// Appends one channel's mean and standard deviation, scaled to [0, 1], from the exact integer sums
// of its pixels and of their squares over `count` pixels.
void add_channel(ChannelStats& stats, uint64_t sum, uint64_t sum_sq, uint64_t count) {
  const double n = static_cast<double>(count);
  const double mean = static_cast<double>(sum) / n;
  const double var = std::max(static_cast<double>(sum_sq) / n - mean * mean, 0.0);
  stats.mean.push_back(static_cast<float>(mean / 255.0));
  // A constant channel would divide by 0: use 1 (only the mean is removed).
  stats.std.push_back(var > 0.0 ? static_cast<float>(std::sqrt(var) / 255.0) : 1.0f);
}

}  // namespace

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
    add_channel(stats, sum, sum_sq, static_cast<uint64_t>(n * plane));
  }
  return stats;
}

ChannelStats channel_stats(const data::Dataset& dataset, int64_t limit) {
  if (const auto* memory = dynamic_cast<const data::InMemoryDataset*>(&dataset))
    return channel_stats(memory->images(), limit);
  const int64_t n = limit > 0 ? std::min(limit, dataset.size()) : dataset.size();
  STRATA_CHECK(n > 0, "channel_stats: the dataset is empty");
  const int64_t count = std::min(n, kMaxStatsExamples);
  const int64_t channels = dataset.image_shape()[0];
  std::vector<uint64_t> sum(static_cast<std::size_t>(channels)), sum_sq(sum.size());
  uint64_t pixels = 0;  // per channel
  for (int64_t k = 0; k < count; ++k) {
    const data::Image image = dataset.get(k * n / count).image;  // evenly spread over the first n
    STRATA_CHECK(image.channels == channels, "channel_stats: ", dataset.describe(k * n / count), " has ",
                 image.channels, " channels, the dataset ", channels);
    const int64_t plane = image.height * image.width;
    for (int64_t c = 0; c < channels; ++c) {
      for (int64_t i = 0; i < plane; ++i) {
        const uint64_t v = image.pixels[c * plane + i];
        sum[c] += v;
        sum_sq[c] += v * v;
      }
    }
    pixels += static_cast<uint64_t>(plane);
  }
  ChannelStats stats;
  for (int64_t c = 0; c < channels; ++c) add_channel(stats, sum[c], sum_sq[c], pixels);
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

data::ImageTransforms make_image_transforms(const TrainConfig& config, bool train) {
  return data::parse_image_transforms(train ? config.train_transforms : config.eval_transforms);
}

}  // namespace strata::train
