#include "strata/data/dataset.hpp"

#include <cstdlib>

#include "strata/error.hpp"

namespace strata::data {

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

std::filesystem::path default_data_dir(std::string_view dataset) {
  const char* root = std::getenv("STRATA_DATA");
  const std::filesystem::path base = root && *root ? std::filesystem::path(root) : "/usr/share/datasets";
  return base / dataset;
}

}  // namespace strata::data
