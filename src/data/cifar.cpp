// CIFAR-10, binary version: each batch file is a sequence of 3073-byte records, one label byte
// (0..9) followed by the 3 x 32 x 32 image as R, G and B planes of rows top to bottom, which is
// already the C x H x W layout of ImageDataset.
#include <cstring>
#include <string>

#include "data/byte_reader.hpp"
#include "strata/data/dataset.hpp"

namespace strata::data {
namespace {

constexpr int64_t kSide = 32;
constexpr int64_t kImageBytes = 3 * kSide * kSide;
constexpr std::size_t kRecordBytes = 1 + kImageBytes;
constexpr const char* kGetIt =
    "download cifar-10-binary.tar.gz (the binary version) from https://www.cs.toronto.edu/~kriz/cifar.html, "
    "extract it and pass --data DIR";
constexpr const char* kHint = "download and extract cifar-10-binary.tar.gz again";

std::vector<std::string> batch_names(Split split) {
  if (split == Split::Test) return {"test_batch.bin"};
  std::vector<std::string> names;
  for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  return names;
}

// Appends the records of one batch file to `ds`.
void read_batch(const std::filesystem::path& path, ImageDataset& ds) {
  ByteReader in(path, kHint);
  const std::vector<uint8_t> bytes = in.read_up_to();
  if (bytes.empty()) in.fail("the file is empty; a CIFAR-10 batch holds records of ", kRecordBytes, " bytes");
  if (bytes.size() % kRecordBytes != 0)
    in.fail("its ", bytes.size(), " bytes are not a whole number of ", kRecordBytes,
            "-byte records (1 label byte + 3x32x32 pixels): the file is truncated or not a CIFAR-10 binary batch");
  const std::size_t records = bytes.size() / kRecordBytes;
  const std::size_t first_pixel = ds.pixels.size();
  ds.pixels.resize(first_pixel + records * kImageBytes);
  ds.labels.reserve(ds.labels.size() + records);
  for (std::size_t r = 0; r < records; ++r) {
    const uint8_t* record = bytes.data() + r * kRecordBytes;
    if (record[0] >= 10)
      in.fail("record ", r, " has label ", int(record[0]), " but CIFAR-10 labels are 0..9 (is this CIFAR-100?)");
    ds.labels.push_back(record[0]);
    std::memcpy(ds.pixels.data() + first_pixel + r * kImageBytes, record + 1, kImageBytes);
  }
}

}  // namespace

const std::vector<std::string>& cifar10_class_names() {
  static const std::vector<std::string> names = {"airplane", "automobile", "bird",  "cat",  "deer",
                                                 "dog",      "frog",       "horse", "ship", "truck"};
  return names;
}

ImageDataset load_cifar10(const std::filesystem::path& dir, Split split) {
  const std::vector<std::string> names = batch_names(split);
  // The archive extracts into cifar-10-batches-bin/; accept its parent too.
  std::filesystem::path root = dir;
  if (!find_data_file(root, names[0]) && find_data_file(dir / "cifar-10-batches-bin", names[0]))
    root = dir / "cifar-10-batches-bin";
  ImageDataset ds;
  ds.channels = 3;
  ds.height = kSide;
  ds.width = kSide;
  ds.class_names = cifar10_class_names();
  for (const std::string& name : names) {
    const auto path = find_data_file(root, name);
    if (!path) fail("CIFAR-10 not found in ", dir.string(), ": expected ", name, "(.gz); ", kGetIt);
    read_batch(*path, ds);
  }
  return ds;
}

}  // namespace strata::data
