// Datasets: the Dataset interface a DataLoader iterates (users implement it for their own data),
// in-memory image datasets and their loaders (MNIST and Fashion-MNIST IDX files, CIFAR-10 binary
// batches, image folders decoded whole), and image folders decoded on demand. Every loader
// validates its input strictly and reports a problem as a strata::Error naming the file and what
// to do.
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "strata/data/image.hpp"
#include "strata/shape.hpp"

namespace strata::data {

// One example: a uint8 image and its class label.
struct Example {
  Image image;
  int64_t label = 0;  // in [0, num_classes())
};

// What a DataLoader reads: examples by index. Implement it for data that is not in memory
// (torch.utils.data.Dataset with (image, target) examples):
//
//   class Shards final : public data::Dataset {
//    public:
//     int64_t size() const override { return n_; }
//     data::Example get(int64_t i) const override { return read_example(i); }  // thread-safe
//     const std::vector<std::string>& class_names() const override { return names_; }
//     Shape image_shape() const override { return {3, 0, 0}; }  // sizes vary
//   };
class Dataset {
 public:
  virtual ~Dataset() = default;
  virtual int64_t size() const = 0;
  // Example `index` in [0, size()). The loader's workers call it from several threads at once:
  // it must be thread-safe. Throws strata::Error when the example cannot be read (name it, e.g.
  // with describe(index)).
  virtual Example get(int64_t index) const = 0;
  // The name of each label (num_classes() entries); the same on every call.
  virtual const std::vector<std::string>& class_names() const = 0;
  // (C, H, W) of every example; H and W are 0 when the size varies from example to example (or
  // is known only once an example is read). C never varies.
  virtual Shape image_shape() const = 0;
  // Where example `index` comes from, for messages: "example 17" by default, a file's path for a
  // folder.
  virtual std::string describe(int64_t index) const;

  int64_t num_classes() const { return static_cast<int64_t>(class_names().size()); }
};
using DatasetPtr = std::shared_ptr<const Dataset>;

// N images of C x H x W uint8 pixels (0 = black, 255 = white) with one class label each.
struct ImageDataset {
  int64_t channels = 0;
  int64_t height = 0;
  int64_t width = 0;
  std::vector<uint8_t> pixels;           // N x C x H x W, row-major (C order)
  std::vector<int64_t> labels;           // N, each in [0, num_classes())
  std::vector<std::string> class_names;  // the name of label k is class_names[k]

  int64_t size() const { return static_cast<int64_t>(labels.size()); }
  int64_t num_classes() const { return static_cast<int64_t>(class_names.size()); }
  int64_t image_numel() const { return channels * height * width; }  // C * H * W
  // Pixels of image i (C x H x W); i in [0, size()).
  std::span<const uint8_t> image(int64_t i) const;
  // Throws strata::Error when the sizes disagree, a dimension is not positive, there are no
  // classes or a label is out of range.
  void validate() const;
};

// An ImageDataset seen as a Dataset, without copying its pixels.
class InMemoryDataset final : public Dataset {
 public:
  explicit InMemoryDataset(std::shared_ptr<const ImageDataset> images);  // validates it
  const ImageDataset& images() const { return *images_; }
  int64_t size() const override { return images_->size(); }
  Example get(int64_t index) const override;
  const std::vector<std::string>& class_names() const override { return images_->class_names; }
  Shape image_shape() const override { return {images_->channels, images_->height, images_->width}; }

 private:
  std::shared_ptr<const ImageDataset> images_;
};

// The examples `indices` of another dataset, in that order (each index in [0, base.size())).
class SubsetDataset final : public Dataset {
 public:
  SubsetDataset(DatasetPtr base, std::vector<int64_t> indices);
  int64_t size() const override { return static_cast<int64_t>(indices_.size()); }
  Example get(int64_t index) const override;
  const std::vector<std::string>& class_names() const override { return base_->class_names(); }
  Shape image_shape() const override { return base_->image_shape(); }
  std::string describe(int64_t index) const override;

 private:
  DatasetPtr base_;
  std::vector<int64_t> indices_;
};

// The dataset cut in two: `fraction` of its images (rounded, at least one in each part), drawn
// with `seed` (the same seed, the same cut, on every machine), become the second part; both keep
// the images' order and every class name.
std::pair<ImageDataset, ImageDataset> split_dataset(const ImageDataset& dataset, double fraction, uint64_t seed);
// The same cut of any dataset (the same examples as above for the same size, fraction and seed),
// as two subsets of it; nothing is read.
std::pair<DatasetPtr, DatasetPtr> split_dataset(DatasetPtr dataset, double fraction, uint64_t seed);

enum class Split { Train, Test };
const char* split_name(Split split);  // "train", "test"

// Where a dataset is looked for by default: $STRATA_DATA/<dataset> when the environment variable
// STRATA_DATA is set (a folder holding one sub-folder per dataset), else
// /usr/share/datasets/<dataset>, where Debian's dataset packages install. Dataset names:
// "fashion-mnist", "mnist", "cifar-10".
std::filesystem::path default_data_dir(std::string_view dataset);

// ---- IDX (MNIST, Fashion-MNIST) ----
// Reads DIR/{train,t10k}-{images-idx3,labels-idx1}-ubyte, each raw or gzip-compressed (recognised
// by its magic bytes), named with or without ".gz". Images are 1 x 28 x 28.
ImageDataset load_fashion_mnist(const std::filesystem::path& dir, Split split);
ImageDataset load_mnist(const std::filesystem::path& dir, Split split);
// Any IDX pair: images (magic 00 00 08 03: N x H x W unsigned bytes) and labels (00 00 08 01: N
// unsigned bytes, each below class_names.size()).
ImageDataset load_idx(const std::filesystem::path& images_file, const std::filesystem::path& labels_file,
                      std::vector<std::string> class_names);
// "T-shirt/top", "Trouser", ..., "Ankle boot" (labels 0..9).
const std::vector<std::string>& fashion_mnist_class_names();
// "0", "1", ..., "9".
const std::vector<std::string>& mnist_class_names();

// ---- CIFAR-10 (binary version) ----
// Reads data_batch_1.bin .. data_batch_5.bin (Train, 50000 images) or test_batch.bin (Test, 10000)
// from DIR, or from DIR/cifar-10-batches-bin as the archive extracts. Each file is a sequence of
// 3073-byte records: the label byte, then 3 x 32 x 32 pixels (R, G, B planes, rows top to bottom).
// Files may be gzip-compressed and named with ".gz".
ImageDataset load_cifar10(const std::filesystem::path& dir, Split split);
// "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck".
const std::vector<std::string>& cifar10_class_names();

// ---- Image folders ----
struct ImageFolderOptions {
  int channels = 3;    // 1 (grey, stb_image's luma) or 3 (RGB); alpha is dropped
  int64_t height = 0;  // resize every image to height x width (bilinear, as resize_bilinear);
  int64_t width = 0;   // 0 x 0 keeps the size, which must then be the same for every image
};
// DIR/<class>/<file>.png|.jpg|.jpeg|.bmp (extensions in any case; other files and hidden entries
// are ignored). Classes are the sub-folders sorted by name, labelled 0, 1, ... in that order;
// images within a class are sorted by file name. Every class must hold at least one image, and
// an image that cannot be read or decoded is an error naming the file.
ImageDataset load_image_folder(const std::filesystem::path& dir, const ImageFolderOptions& options = {});

// The same folder layout and rules, decoded on demand: the constructor lists the files (nothing
// is decoded), get(i) reads and decodes file i (in the loader's workers), so folders far larger
// than memory (ImageNet's 1.3 M JPEGs) can be used. Without a size in the options, images keep
// their own size (image_shape() is C x 0 x 0): the loader's transforms then give them one.
class ImageFolderDataset final : public Dataset {
 public:
  explicit ImageFolderDataset(const std::filesystem::path& dir, const ImageFolderOptions& options = {});
  int64_t size() const override { return static_cast<int64_t>(files_.size()); }
  // Throws strata::Error naming the file when it cannot be read or decoded.
  Example get(int64_t index) const override;
  const std::vector<std::string>& class_names() const override { return class_names_; }
  Shape image_shape() const override;
  std::string describe(int64_t index) const override;  // the file's path
  const std::filesystem::path& path(int64_t index) const;
  int64_t label(int64_t index) const;

 private:
  ImageFolderOptions options_;
  std::vector<std::string> class_names_;
  std::vector<std::filesystem::path> files_;
  std::vector<int64_t> labels_;
};

}  // namespace strata::data

#pragma GCC visibility pop
