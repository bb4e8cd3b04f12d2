#include "strata/data/dataset.hpp"

#include <cmath>
#include <cstdlib>

#include "strata/error.hpp"

namespace strata::data {
namespace {

// Which of n examples the second part of a split holds: `fraction` of them (rounded, at least one
// in each part), drawn by a Fisher-Yates shuffle with splitmix64, so that the cut is the same
// wherever it runs (std::shuffle's algorithm is the standard library's choice).
std::vector<bool> held_out(int64_t n, double fraction, uint64_t seed) {
  const auto held = static_cast<int64_t>(std::llround(fraction * static_cast<double>(n)));
  STRATA_CHECK(fraction > 0.0 && fraction < 1.0 && held >= 1 && held < n, "split_dataset: a fraction of ", fraction,
               " of ", n, " images leaves one part empty; give a fraction in (0, 1) and more images");
  std::vector<int64_t> order(static_cast<std::size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  uint64_t state = seed;
  auto next = [&state] {
    uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  };
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[next() % static_cast<uint64_t>(i + 1)]);
  std::vector<bool> in_second(static_cast<std::size_t>(n), false);
  for (int64_t i = 0; i < held; ++i) in_second[order[i]] = true;
  return in_second;
}

}  // namespace

std::string Dataset::describe(int64_t index) const { return detail::cat("example ", index); }

InMemoryDataset::InMemoryDataset(std::shared_ptr<const ImageDataset> images) : images_(std::move(images)) {
  STRATA_CHECK(images_, "InMemoryDataset: the dataset is null");
  images_->validate();
}

Example InMemoryDataset::get(int64_t index) const {
  const std::span<const uint8_t> pixels = images_->image(index);
  return {.image = {.channels = images_->channels,
                    .height = images_->height,
                    .width = images_->width,
                    .pixels = {pixels.begin(), pixels.end()}},
          .label = images_->labels[static_cast<std::size_t>(index)]};
}

SubsetDataset::SubsetDataset(DatasetPtr base, std::vector<int64_t> indices)
    : base_(std::move(base)), indices_(std::move(indices)) {
  STRATA_CHECK(base_, "SubsetDataset: the dataset is null");
  for (int64_t i : indices_)
    STRATA_CHECK(i >= 0 && i < base_->size(), "SubsetDataset: index ", i, " is outside [0, ", base_->size(), ")");
}

Example SubsetDataset::get(int64_t index) const {
  STRATA_CHECK(index >= 0 && index < size(), "SubsetDataset: index ", index, " is outside [0, ", size(), ")");
  return base_->get(indices_[static_cast<std::size_t>(index)]);
}

std::string SubsetDataset::describe(int64_t index) const {
  STRATA_CHECK(index >= 0 && index < size(), "SubsetDataset: index ", index, " is outside [0, ", size(), ")");
  return base_->describe(indices_[static_cast<std::size_t>(index)]);
}

std::span<const uint8_t> ImageDataset::image(int64_t i) const {
  STRATA_CHECK(i >= 0 && i < size(), "ImageDataset::image: index ", i, " is outside [0, ", size(), ")");
  const auto numel = static_cast<std::size_t>(image_numel());
  return {pixels.data() + static_cast<std::size_t>(i) * numel, numel};
}

void ImageDataset::validate() const {
  STRATA_CHECK(channels > 0 && height > 0 && width > 0, "ImageDataset: image shape ", channels, "x", height, "x", width,
               " must be positive in every dimension");
  STRATA_CHECK(!class_names.empty(), "ImageDataset: no class names; give one name per label");
  const auto expected = static_cast<std::size_t>(size()) * static_cast<std::size_t>(image_numel());
  STRATA_CHECK(pixels.size() == expected, "ImageDataset: ", pixels.size(), " pixels for ", size(), " images of ",
               channels, "x", height, "x", width, " (expected ", expected, ")");
  for (std::size_t i = 0; i < labels.size(); ++i)
    STRATA_CHECK(labels[i] >= 0 && labels[i] < num_classes(), "ImageDataset: label ", labels[i], " of example ", i,
                 " is outside [0, ", num_classes(), ") (", num_classes(), " class names)");
}

const char* split_name(Split split) { return split == Split::Train ? "train" : "test"; }

std::pair<ImageDataset, ImageDataset> split_dataset(const ImageDataset& dataset, double fraction, uint64_t seed) {
  dataset.validate();
  const int64_t n = dataset.size();
  const std::vector<bool> in_second = held_out(n, fraction, seed);

  std::pair<ImageDataset, ImageDataset> parts;
  for (ImageDataset* part : {&parts.first, &parts.second}) {
    part->channels = dataset.channels;
    part->height = dataset.height;
    part->width = dataset.width;
    part->class_names = dataset.class_names;
  }
  const auto numel = static_cast<std::size_t>(dataset.image_numel());
  for (int64_t i = 0; i < n; ++i) {
    ImageDataset& part = in_second[i] ? parts.second : parts.first;
    const std::span<const uint8_t> image = dataset.image(i);
    part.pixels.insert(part.pixels.end(), image.begin(), image.begin() + static_cast<std::ptrdiff_t>(numel));
    part.labels.push_back(dataset.labels[i]);
  }
  return parts;
}

std::pair<DatasetPtr, DatasetPtr> split_dataset(DatasetPtr dataset, double fraction, uint64_t seed) {
  STRATA_CHECK(dataset, "split_dataset: the dataset is null");
  const std::vector<bool> in_second = held_out(dataset->size(), fraction, seed);
  std::vector<int64_t> first, second;
  for (int64_t i = 0; i < dataset->size(); ++i) (in_second[i] ? second : first).push_back(i);
  return {std::make_shared<SubsetDataset>(dataset, std::move(first)),
          std::make_shared<SubsetDataset>(dataset, std::move(second))};
}

std::filesystem::path default_data_dir(std::string_view dataset) {
  const char* root = std::getenv("STRATA_DATA");
  const std::filesystem::path base = root && *root ? std::filesystem::path(root) : "/usr/share/datasets";
  return base / dataset;
}

}  // namespace strata::data
