// IDX datasets: the real Fashion-MNIST, and synthetic files (raw and gzip) for every error case.
#include <cstdlib>
#include <numeric>

#include "common/test_util.hpp"
#include "data/files.hpp"

using namespace strata;
using namespace strata::data;
using strata::test::Bytes;
using strata::test::expect_error;
using strata::test::gzip;
using strata::test::idx_file;
using strata::test::TempDir;
using strata::test::write_file;

namespace {

uint64_t pixel_sum(const ImageDataset& ds, int64_t begin, int64_t end) {
  const auto numel = ds.image_numel();
  return std::accumulate(ds.pixels.begin() + begin * numel, ds.pixels.begin() + end * numel, uint64_t{0});
}

// Three 2x2 images (pixels 0..11) with labels 2, 0, 9.
const Bytes kImages = idx_file({3, 2, 2}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
const Bytes kLabels = idx_file({3}, {2, 0, 9});

void expect_synthetic(const ImageDataset& ds) {
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.channels, 1);
  EXPECT_EQ(ds.height, 2);
  EXPECT_EQ(ds.width, 2);
  EXPECT_EQ(ds.pixels, (Bytes{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}));
  EXPECT_EQ(ds.labels, (std::vector<int64_t>{2, 0, 9}));
  EXPECT_EQ(ds.num_classes(), 10);
}

}  // namespace

TEST(FashionMnist, RealTrainingSet) {
  const ImageDataset ds = load_fashion_mnist(default_data_dir("fashion-mnist"), Split::Train);
  EXPECT_EQ(ds.size(), 60000);
  EXPECT_EQ(ds.channels, 1);
  EXPECT_EQ(ds.height, 28);
  EXPECT_EQ(ds.width, 28);
  EXPECT_EQ(ds.pixels.size(), 60000u * 784u);
  EXPECT_EQ(ds.labels[0], 9);
  EXPECT_EQ(ds.class_names[ds.labels[0]], "Ankle boot");
  EXPECT_EQ(std::vector<int64_t>(ds.labels.begin(), ds.labels.begin() + 10),
            (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  // The first non-zero pixels of image 0 (row 3) and the pixel sums.
  EXPECT_EQ(ds.image(0)[96], 1);
  EXPECT_EQ(ds.image(0)[99], 13);
  EXPECT_EQ(ds.image(0)[100], 73);
  EXPECT_EQ(pixel_sum(ds, 0, 1), 76247u);
  EXPECT_EQ(pixel_sum(ds, 0, ds.size()), 3431114169u);
  std::vector<int64_t> per_class(10, 0);
  for (int64_t label : ds.labels) ++per_class.at(label);
  EXPECT_EQ(per_class, std::vector<int64_t>(10, 6000));
  EXPECT_NO_THROW(ds.validate());
}

TEST(FashionMnist, RealTestSet) {
  const ImageDataset ds = load_fashion_mnist(default_data_dir("fashion-mnist"), Split::Test);
  EXPECT_EQ(ds.size(), 10000);
  EXPECT_EQ(ds.height, 28);
  EXPECT_EQ(ds.width, 28);
  EXPECT_EQ(std::vector<int64_t>(ds.labels.begin(), ds.labels.begin() + 5), (std::vector<int64_t>{9, 2, 1, 1, 6}));
  EXPECT_EQ(pixel_sum(ds, 0, 1), 33456u);
  EXPECT_EQ(pixel_sum(ds, 0, ds.size()), 573469082u);
}

TEST(FashionMnist, ClassNames) {
  EXPECT_EQ(fashion_mnist_class_names(),
            (std::vector<std::string>{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                                      "Sneaker", "Bag", "Ankle boot"}));
  EXPECT_EQ(mnist_class_names().front(), "0");
  EXPECT_EQ(mnist_class_names().back(), "9");
  EXPECT_EQ(mnist_class_names().size(), 10u);
}

TEST(DataDir, DefaultAndEnvironmentOverride) {
  unsetenv("STRATA_DATA");
  EXPECT_EQ(default_data_dir("fashion-mnist"), std::filesystem::path("/usr/share/datasets/fashion-mnist"));
  setenv("STRATA_DATA", "/tmp/my-data", 1);
  EXPECT_EQ(default_data_dir("cifar-10"), std::filesystem::path("/tmp/my-data/cifar-10"));
  unsetenv("STRATA_DATA");
}

TEST(Idx, MissingFilesSayWhatToDo) {
  TempDir dir;
  expect_error([&] { load_fashion_mnist(dir.path(), Split::Train); },
               "Fashion-MNIST not found in " + dir.path().string());
  expect_error([&] { load_fashion_mnist(dir.path(), Split::Train); }, "expected train-images-idx3-ubyte(.gz)");
  expect_error([&] { load_fashion_mnist(dir.path(), Split::Train); }, "dataset-fashion-mnist");
  expect_error([&] { load_fashion_mnist(dir.path(), Split::Train); }, "--data DIR");
  expect_error([&] { load_fashion_mnist(dir.path() / "nowhere", Split::Test); }, "t10k-images-idx3-ubyte(.gz)");
  write_file(dir / "t10k-images-idx3-ubyte", kImages);
  expect_error([&] { load_mnist(dir.path(), Split::Test); },
               "MNIST not found in " + dir.path().string() + ": expected t10k-labels-idx1-ubyte(.gz)");
  expect_error([&] { load_idx(dir / "t10k-images-idx3-ubyte", dir / "nothing", {"a"}); },
               (dir / "nothing").string() + ": not found; check the path");
  expect_error([&] { load_idx(dir.path(), dir / "nothing", {"a"}); }, dir.path().string() + ": not a regular file");
}

TEST(Idx, RawGzipAndUnsuffixedGzip) {
  TempDir raw, gz, unsuffixed;
  write_file(raw / "train-images-idx3-ubyte", kImages);
  write_file(raw / "train-labels-idx1-ubyte", kLabels);
  expect_synthetic(load_fashion_mnist(raw.path(), Split::Train));

  write_file(gz / "t10k-images-idx3-ubyte.gz", gzip(kImages));
  write_file(gz / "t10k-labels-idx1-ubyte.gz", gzip(kLabels));
  expect_synthetic(load_mnist(gz.path(), Split::Test));

  // gzip data under the un-suffixed name is recognised by its magic bytes.
  write_file(unsuffixed / "train-images-idx3-ubyte", gzip(kImages));
  write_file(unsuffixed / "train-labels-idx1-ubyte", kLabels);
  expect_synthetic(load_fashion_mnist(unsuffixed.path(), Split::Train));
}

TEST(Idx, ConcatenatedGzipMembers) {
  TempDir dir;
  Bytes images = gzip(Bytes(kImages.begin(), kImages.begin() + 10));
  const Bytes rest = gzip(Bytes(kImages.begin() + 10, kImages.end()));
  images.insert(images.end(), rest.begin(), rest.end());
  write_file(dir / "images", images);
  write_file(dir / "labels", kLabels);
  expect_synthetic(load_idx(dir / "images", dir / "labels", mnist_class_names()));
}

TEST(Idx, GzipLargerThanOneStoredBlock) {
  TempDir dir;
  Bytes pixels(300 * 16 * 16);
  for (std::size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>(i * 7);
  write_file(dir / "images.gz", gzip(idx_file({300, 16, 16}, pixels)));
  write_file(dir / "labels.gz", gzip(idx_file({300}, Bytes(300, 1))));
  const ImageDataset ds = load_idx(dir / "images.gz", dir / "labels.gz", {"a", "b"});
  EXPECT_EQ(ds.size(), 300);
  EXPECT_EQ(ds.pixels, pixels);
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"a", "b"}));
}

// Each case writes a bad images file (raw and gzip) next to good labels and expects an error
// naming the file and the problem.
TEST(Idx, BadImageFiles) {
  const struct {
    const char* name;
    Bytes images;
    const char* fragment;
  } cases[] = {
      {"truncated", Bytes(kImages.begin(), kImages.end() - 3),
       "truncated: the header promises images N x H x W of 3 x 2 x 2 = 12 bytes after the header, but the file holds "
       "only 9"},
      {"extra bytes", idx_file({3, 2, 2}, Bytes(13, 0)), "more data than the header describes"},
      {"wrong magic", Bytes{0x12, 0x34, 0x08, 0x03, 0, 0, 0, 3},
       "not an IDX file: it begins with bytes 12 34 08 03 where an IDX file of images N x H x W begins 00 00 08 03"},
      {"float elements", Bytes{0, 0, 0x0d, 3, 0, 0, 0, 1}, "IDX element type 0x0d is not supported"},
      {"label file as images", kLabels, "IDX file has 1 dimensions but images N x H x W needs 3"},
      {"zero images", idx_file({0, 2, 2}, {}), "dimension 0 of the IDX header is 0"},
      {"short header", Bytes{0, 0, 8}, "only 3 bytes, too short for an IDX header"},
      {"header cut inside sizes", Bytes{0, 0, 8, 3, 0, 0, 0, 3, 0, 0}, "ends inside its dimension sizes"},
      {"empty", Bytes{}, "only 0 bytes"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    for (bool compressed : {false, true}) {
      TempDir dir;
      write_file(dir / "images", compressed ? gzip(c.images) : c.images);
      write_file(dir / "labels", kLabels);
      expect_error([&] { load_idx(dir / "images", dir / "labels", mnist_class_names()); }, (dir / "images").string());
      expect_error([&] { load_idx(dir / "images", dir / "labels", mnist_class_names()); }, c.fragment);
    }
  }
}

// Issue 22, defect 5: a small gzip declaring millions of images took gigabytes before failing.
// The declared size is checked against what the compressed file can hold (deflate inflates at most
// 1032-fold) and against the most one IDX file may load, before anything is inflated.
TEST(Idx, GzipBombsAreRefusedBeforeInflating) {
  TempDir dir;
  write_file(dir / "labels", kLabels);
  write_file(dir / "images", gzip(idx_file({5'000'000, 28, 28}, Bytes(1000, 0))));
  expect_error([&] { load_idx(dir / "images", dir / "labels", mnist_class_names()); },
               "the IDX header declares images N x H x W of 5000000 x 28 x 28 = 3920000000 bytes, more than the "
               "compressed file can hold");
  // 3.2 MB of gzip can hold 3.3 GB: the size limit refuses it.
  write_file(dir / "images", gzip(idx_file({3, 32768, 32768}, Bytes(3'200'000, 0))));
  expect_error([&] { load_idx(dir / "images", dir / "labels", mnist_class_names()); },
               "= 3221225472 bytes, more than the 2147483648 Strata loads from one IDX file into memory");
}

TEST(Idx, CountsAndLabelsMustAgree) {
  TempDir dir;
  write_file(dir / "train-images-idx3-ubyte", kImages);
  write_file(dir / "train-labels-idx1-ubyte", idx_file({2}, {1, 2}));
  expect_error([&] { load_fashion_mnist(dir.path(), Split::Train); }, "holds 3 images but");
  expect_error([&] { load_fashion_mnist(dir.path(), Split::Train); }, "holds 2 labels");
  expect_error([&] { load_fashion_mnist(dir.path(), Split::Train); },
               "reinstall the Debian package dataset-fashion-mnist");

  write_file(dir / "train-labels-idx1-ubyte", idx_file({3}, {1, 10, 2}));
  expect_error([&] { load_fashion_mnist(dir.path(), Split::Train); },
               "train-labels-idx1-ubyte: label 10 of example 1 is outside [0, 10)");
  expect_error([&] { load_idx(dir / "train-images-idx3-ubyte", dir / "train-labels-idx1-ubyte", {}); },
               "no class names");
}

TEST(Idx, CorruptAndTruncatedGzip) {
  TempDir dir;
  write_file(dir / "labels", kLabels);
  Bytes corrupt = gzip(kImages);
  corrupt[10 + 5 + 16 + 3] ^= 0xff;  // pixel 3 (after the gzip and block headers and the IDX header)
  write_file(dir / "images", corrupt);
  expect_error([&] { load_idx(dir / "images", dir / "labels", mnist_class_names()); },
               "corrupt gzip data (zlib: incorrect data check)");

  Bytes bad_block = gzip(kImages);
  bad_block[12] ^= 0xff;  // the stored block's length no longer matches its complement
  write_file(dir / "images", bad_block);
  expect_error([&] { load_idx(dir / "images", dir / "labels", mnist_class_names()); }, "corrupt gzip data");

  const Bytes whole = gzip(kImages);
  write_file(dir / "images", Bytes(whole.begin(), whole.end() - 4));  // trailer cut
  expect_error([&] { load_idx(dir / "images", dir / "labels", mnist_class_names()); },
               "the gzip data ends early (the file is truncated)");

  // Real deflate data cut in the middle.
  write_file(dir / "images", kImages);
  const Bytes real = strata::test::read_file(default_data_dir("fashion-mnist") / "t10k-labels-idx1-ubyte.gz");
  ASSERT_GT(real.size(), 1000u);
  write_file(dir / "cut.gz", Bytes(real.begin(), real.begin() + real.size() / 2));
  expect_error([&] { load_idx(dir / "images", dir / "cut.gz", mnist_class_names()); },
               "cut.gz: the gzip data ends early");
}

TEST(Idx, HeaderClaimingHugeSizesAllocatesOnlyWhatTheFileHolds) {
  // 4000 x 4000 x 4000 bytes (64 GB) promised by a file of a few dozen bytes: the loader must
  // report the truncation, not try to allocate the claimed size.
  TempDir dir;
  write_file(dir / "labels", kLabels);
  for (bool compressed : {false, true}) {
    const Bytes huge = idx_file({4000, 4000, 4000}, Bytes(64, 7));
    write_file(dir / "images", compressed ? gzip(huge) : huge);
    expect_error([&] { load_idx(dir / "images", dir / "labels", mnist_class_names()); },
                 compressed ? "= 64000000000 bytes, more than the compressed file can hold"
                            : "= 64000000000 bytes after the header, but the file holds only 64");
  }
}
