// CIFAR-10 binary batches, written by the test.
#include "common/test_util.hpp"
#include "data/files.hpp"

using namespace strata;
using namespace strata::data;
using strata::test::Bytes;
using strata::test::expect_error;
using strata::test::TempDir;
using strata::test::write_file;

namespace {

// `count` records; record r has label labels[r] and pixel i = (seed + r + i) mod 256.
Bytes cifar_batch(const std::vector<uint8_t>& labels, int seed) {
  Bytes out;
  for (std::size_t r = 0; r < labels.size(); ++r) {
    out.push_back(labels[r]);
    for (int i = 0; i < 3072; ++i) out.push_back(static_cast<uint8_t>(seed + r + i));
  }
  return out;
}

void write_training_set(const std::filesystem::path& dir) {
  for (int b = 1; b <= 5; ++b)
    write_file(dir / ("data_batch_" + std::to_string(b) + ".bin"),
               cifar_batch({static_cast<uint8_t>(b), static_cast<uint8_t>(9 - b)}, 10 * b));
}

}  // namespace

TEST(Cifar10, ReadsTrainingBatchesInOrder) {
  TempDir dir;
  write_training_set(dir.path());
  const ImageDataset ds = load_cifar10(dir.path(), Split::Train);
  EXPECT_EQ(ds.size(), 10);
  EXPECT_EQ(ds.channels, 3);
  EXPECT_EQ(ds.height, 32);
  EXPECT_EQ(ds.width, 32);
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{1, 8, 2, 7, 3, 6, 4, 5, 5, 4}));
  EXPECT_EQ(ds.class_names, cifar10_class_names());
  EXPECT_EQ(ds.class_names[0], "airplane");
  EXPECT_EQ(ds.class_names[9], "truck");
  // Image 3 is record 1 of data_batch_2 (seed 20): R plane first, then G, then B.
  const auto img = ds.image(3);
  EXPECT_EQ(img[0], 21);                           // R (0, 0)
  EXPECT_EQ(img[32 + 5], (21 + 37) % 256);         // R (1, 5)
  EXPECT_EQ(img[1024], (21 + 1024) % 256);         // G (0, 0)
  EXPECT_EQ(img[2047 + 1024], (21 + 3071) % 256);  // B (31, 31)
  EXPECT_NO_THROW(ds.validate());
}

TEST(Cifar10, TestBatchGzipAndArchiveFolder) {
  TempDir dir;
  const auto inner = dir / "cifar-10-batches-bin";
  write_file(inner / "test_batch.bin.gz", strata::test::gzip(cifar_batch({0, 9, 3}, 1)));
  const ImageDataset ds = load_cifar10(dir.path(), Split::Test);
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{0, 9, 3}));
  EXPECT_EQ(ds.image(2)[0], 3);
}

TEST(Cifar10, Errors) {
  TempDir dir;
  expect_error([&] { load_cifar10(dir.path(), Split::Train); },
               "CIFAR-10 not found in " + dir.path().string() + ": expected data_batch_1.bin(.gz)");
  expect_error([&] { load_cifar10(dir.path(), Split::Test); }, "cifar-10-binary.tar.gz");
  expect_error([&] { load_cifar10(dir.path(), Split::Test); }, "--data DIR");

  write_training_set(dir.path());
  std::filesystem::remove(dir / "data_batch_4.bin");
  expect_error([&] { load_cifar10(dir.path(), Split::Train); }, "expected data_batch_4.bin(.gz)");

  Bytes cut = cifar_batch({1, 2}, 0);
  cut.pop_back();
  write_file(dir / "test_batch.bin", cut);
  expect_error([&] { load_cifar10(dir.path(), Split::Test); },
               "test_batch.bin: its 6145 bytes are not a whole number of 3073-byte records");

  write_file(dir / "test_batch.bin", cifar_batch({1, 10}, 0));
  expect_error([&] { load_cifar10(dir.path(), Split::Test); }, "record 1 has label 10 but CIFAR-10 labels are 0..9");

  write_file(dir / "test_batch.bin", {});
  expect_error([&] { load_cifar10(dir.path(), Split::Test); }, "test_batch.bin: the file is empty");
}
