// The Dataset interface: a user's own dataset through the DataLoader, worker threads, image
// transforms before the fused Transform, examples of varying size, subsets and splits, and image
// folders decoded on demand (ImageFolderDataset) against the folder decoded whole.
#include <stb_image_write.h>

#include <atomic>
#include <thread>

#include "common/test_util.hpp"
#include "data/files.hpp"
#include "strata/random.hpp"

using namespace strata;
using namespace strata::data;
using strata::test::Bytes;
using strata::test::expect_error;
using strata::test::TempDir;
using strata::test::write_file;

namespace {

// Example i: c x (h + i % vary) x w pixels, pixel j = (5 i + j) mod 256, label i mod 3. Counts the
// calls of get(), which may come from several threads; fails on the examples in `bad`.
class CountingDataset final : public Dataset {
 public:
  CountingDataset(int64_t n, int64_t c, int64_t h, int64_t w, int64_t vary = 1, std::vector<int64_t> bad = {})
      : n_(n), c_(c), h_(h), w_(w), vary_(vary), bad_(std::move(bad)) {}
  int64_t size() const override { return n_; }
  Example get(int64_t i) const override {
    ++calls;
    for (int64_t b : bad_)
      if (b == i) fail("cannot read ", describe(i));
    Example e;
    e.image = {.channels = c_, .height = h_ + i % vary_, .width = w_, .pixels = {}};
    for (int64_t j = 0; j < e.image.numel(); ++j) e.image.pixels.push_back(static_cast<uint8_t>((5 * i + j) % 256));
    e.label = i % 3;
    return e;
  }
  const std::vector<std::string>& class_names() const override { return names_; }
  Shape image_shape() const override { return {c_, vary_ == 1 ? h_ : 0, w_}; }
  std::string describe(int64_t i) const override { return "record " + std::to_string(i); }

  mutable std::atomic<int64_t> calls{0};

 private:
  int64_t n_, c_, h_, w_, vary_;
  std::vector<int64_t> bad_;
  std::vector<std::string> names_{"a", "b", "c"};
};

// The same examples as an in-memory ImageDataset (all of one size).
ImageDataset counting_in_memory(const CountingDataset& ds) {
  ImageDataset out;
  const Shape s = ds.image_shape();
  out.channels = s[0];
  out.height = s[1];
  out.width = s[2];
  out.class_names = ds.class_names();
  for (int64_t i = 0; i < ds.size(); ++i) {
    const Example e = ds.get(i);
    out.pixels.insert(out.pixels.end(), e.image.pixels.begin(), e.image.pixels.end());
    out.labels.push_back(e.label);
  }
  return out;
}

std::vector<Batch> ds_all_batches(Epoch epoch) {
  std::vector<Batch> batches;
  for (Batch& b : epoch) batches.push_back(std::move(b));
  return batches;
}

void ds_expect_same(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices) << "batch " << i;
    EXPECT_EQ(a[i].images.to_vector<float>(), b[i].images.to_vector<float>()) << "batch " << i;
    EXPECT_EQ(a[i].labels.to_vector<int64_t>(), b[i].labels.to_vector<int64_t>()) << "batch " << i;
  }
}

void ds_write_png(const std::filesystem::path& path, int w, int h, int seed) {
  std::filesystem::create_directories(path.parent_path());
  Bytes rgb;
  for (int i = 0; i < w * h * 3; ++i) rgb.push_back(static_cast<uint8_t>((i * 37 + seed * 11) % 256));
  ASSERT_TRUE(stbi_write_png(path.c_str(), w, h, 3, rgb.data(), w * 3)) << path;
}

}  // namespace

TEST(Dataset, AUsersDatasetLoadsAsTheSameImagesInMemory) {
  const auto own = std::make_shared<const CountingDataset>(23, 3, 6, 5);
  const DataLoaderOptions options{.batch_size = 4,
                                  .shuffle = true,
                                  .seed = 9,
                                  .transform = {.crop_padding = 1,
                                                .flip_probability = 0.5,
                                                .resize_height = 7,
                                                .resize_width = 7,
                                                .mean = {0.5f},
                                                .std = {0.2f}}};
  DataLoader loader(own, options);
  EXPECT_EQ(loader.image_shape(), (Shape{3, 7, 7}));
  EXPECT_EQ(loader.dataset().num_classes(), 3);
  ds_expect_same(ds_all_batches(loader.epoch(2)), ds_all_batches(DataLoader(counting_in_memory(*own), options).epoch(2)));
}

TEST(Dataset, WorkersAndPrefetchGiveTheSameBatchesInOrder) {
  const auto own = std::make_shared<const CountingDataset>(41, 1, 8, 8);
  DataLoaderOptions options{.batch_size = 3,
                            .shuffle = true,
                            .seed = 5,
                            .image_transforms = {std::make_shared<RandomRotation>(20.0),
                                                 std::make_shared<RandomResizedCrop>(6, 6)},
                            .prefetch = 0};
  const std::vector<Batch> inline_batches = ds_all_batches(DataLoader(own, options).epoch(1));
  ASSERT_EQ(inline_batches.size(), 14u);
  for (int workers : {1, 2, 5}) {
    for (int prefetch : {1, 4}) {
      SCOPED_TRACE(testing::Message() << workers << " workers, prefetch " << prefetch);
      options.workers = workers;
      options.prefetch = prefetch;
      ds_expect_same(ds_all_batches(DataLoader(own, options).epoch(1)), inline_batches);
    }
  }
  // The transforms drew from the example's generator: another epoch, other crops.
  EXPECT_NE(ds_all_batches(DataLoader(own, options).epoch(2))[0].images.to_vector<float>(),
            ds_all_batches(DataLoader(own, options).epoch(1))[0].images.to_vector<float>());
}

TEST(Dataset, ImageTransformsRunBeforeTheTransformOnTheSameGenerator) {
  const auto own = std::make_shared<const CountingDataset>(6, 3, 9, 12);
  const ImageTransforms transforms = parse_image_transforms("RandomResizedCrop((5, 6)) ColorJitter(0.3, 0.3, 0.3)");
  const DataLoader loader(own, {.batch_size = 6,
                                .seed = 77,
                                .image_transforms = transforms,
                                .transform = {.flip_probability = 0.5, .mean = {0.4f}, .std = {0.3f}},
                                .prefetch = 0});
  EXPECT_EQ(loader.image_shape(), (Shape{3, 5, 6}));
  const Batch batch = ds_all_batches(loader.epoch(3))[0];
  for (int64_t i = 0; i < 6; ++i) {
    Generator gen(augmentation_seed(77, 3, i));
    const Image image = apply(transforms, own->get(i).image, gen);
    Tensor x = to_float(image.pixels, {1, 3, 5, 6});
    x = random_horizontal_flip(x, 0.5, gen);
    x = normalize(x, {0.4f}, {0.3f});
    test::expect_close(batch.images.slice(0, i, i + 1), x, 0.0);
  }
}

TEST(Dataset, TheFirstExampleFixesAVaryingSizeAndOthersAreNamed) {
  // Heights 4 and 5 alternate: no transform gives them one size.
  const auto varying = std::make_shared<const CountingDataset>(6, 1, 4, 4, 2);
  EXPECT_EQ(varying->image_shape(), (Shape{1, 0, 4}));
  const DataLoader loader(varying, {.batch_size = 2, .prefetch = 0});
  EXPECT_EQ(loader.image_shape(), (Shape{1, 4, 4}));
  expect_error([&] { ds_all_batches(loader.epoch(0)); },
               "record 1 is 1x5x4 but the batches take 1x4x4 (C x H x W, fixed by the first example); give every "
               "image one size");
  // A resize gives them one.
  const DataLoader resized(varying, {.batch_size = 2, .transform = {.resize_height = 3, .resize_width = 3}});
  EXPECT_EQ(ds_all_batches(resized.epoch(0)).size(), 3u);
  const DataLoader cropped(varying, {.batch_size = 2, .image_transforms = {std::make_shared<CenterCrop>(3, 2)}});
  EXPECT_EQ(cropped.image_shape(), (Shape{1, 3, 2}));
  EXPECT_EQ(ds_all_batches(cropped.epoch(0)).size(), 3u);
}

TEST(Dataset, AnExampleThatCannotBeReadFailsItsBatchAfterTheEarlierOnes) {
  for (int workers : {1, 3}) {
    SCOPED_TRACE(workers);
    const auto own = std::make_shared<const CountingDataset>(20, 1, 4, 4, 1, std::vector<int64_t>{9});
    const DataLoader loader(own, {.batch_size = 4, .workers = workers});
    Epoch epoch = loader.epoch(0);
    EXPECT_TRUE(epoch.next().has_value());
    EXPECT_TRUE(epoch.next().has_value());
    expect_error([&] { epoch.next(); }, "cannot read record 9");
    EXPECT_FALSE(epoch.next().has_value());
  }
}

TEST(Dataset, WorkersPrepareOnlyAsFarAheadAsAllowed) {
  const auto own = std::make_shared<const CountingDataset>(100, 1, 4, 4);
  const DataLoader loader(own, {.batch_size = 2, .prefetch = 3, .workers = 2});
  own->calls = 0;
  Epoch epoch = loader.epoch(0);
  ASSERT_TRUE(epoch.next().has_value());
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  // One batch taken, at most 3 more prepared or in preparation: at most 4 batches of 2 read.
  EXPECT_LE(own->calls.load(), 8);
  EXPECT_GE(own->calls.load(), 2);
}

TEST(Dataset, SubsetsAndSplitsCutAsTheInMemorySplit) {
  const auto own = std::make_shared<const CountingDataset>(30, 1, 2, 2);
  const ImageDataset memory = counting_in_memory(*own);
  const auto [train, test] = split_dataset(DatasetPtr(own), 0.2, 11);
  const auto [memory_train, memory_test] = split_dataset(memory, 0.2, 11);
  ASSERT_EQ(train->size(), memory_train.size());
  ASSERT_EQ(test->size(), 6);
  for (int64_t i = 0; i < test->size(); ++i) {
    const std::span<const uint8_t> expected = memory_test.image(i);
    EXPECT_EQ(test->get(i).image.pixels, Bytes(expected.begin(), expected.end()));
    EXPECT_EQ(test->get(i).label, memory_test.labels[i]);
  }
  EXPECT_EQ(train->class_names(), own->class_names());
  EXPECT_EQ(test->describe(0).rfind("record ", 0), 0u);
  expect_error([&] { SubsetDataset(own, {0, 30}); }, "index 30 is outside [0, 30)");
  expect_error([&] { split_dataset(DatasetPtr(own), 0.999, 1); }, "leaves one part empty");
}

TEST(Dataset, BadDatasetsAndLabelsAreClearErrors) {
  class Broken final : public Dataset {
   public:
    Broken(Shape shape, int64_t label) : shape_(std::move(shape)), label_(label) {}
    int64_t size() const override { return 4; }
    Example get(int64_t) const override { return {.image = {1, 2, 2, Bytes(4, 0)}, .label = label_}; }
    const std::vector<std::string>& class_names() const override { return names_; }
    Shape image_shape() const override { return shape_; }

   private:
    Shape shape_;
    int64_t label_;
    std::vector<std::string> names_{"only"};
  };
  expect_error([] { DataLoader(std::make_shared<const Broken>(Shape{0, 2, 2}, 0)); }, "image_shape() is [0,2,2]");
  expect_error([] { DataLoader(std::make_shared<const Broken>(Shape{2, 2}, 0)); }, "expected (C, H, W)");
  const DataLoader bad_label(std::make_shared<const Broken>(Shape{1, 2, 2}, 3), {.batch_size = 4});
  expect_error([&] { ds_all_batches(bad_label.epoch(0)); }, "example 0 has label 3, outside [0, 1)");
  expect_error([] { DataLoader loader{DatasetPtr()}; }, "the dataset is null");
  expect_error([] { DataLoader(std::make_shared<const Broken>(Shape{1, 2, 2}, 0), {.workers = 0}); },
               "workers must be in [1, 256], got 0");
}

TEST(ImageFolderDataset, DecodesOnDemandAsTheWholeFolderDecodes) {
  TempDir dir;
  ds_write_png(dir / "cat" / "1.png", 9, 7, 1);
  ds_write_png(dir / "cat" / "2.png", 9, 7, 2);
  ds_write_png(dir / "dog" / "1.png", 9, 7, 3);
  for (const ImageFolderOptions& options : {ImageFolderOptions{}, ImageFolderOptions{.channels = 1},
                                            ImageFolderOptions{.channels = 3, .height = 5, .width = 4}}) {
    SCOPED_TRACE(options.height);
    const ImageDataset whole = load_image_folder(dir.path(), options);
    const ImageFolderDataset lazy(dir.path(), options);
    ASSERT_EQ(lazy.size(), 3);
    EXPECT_EQ(lazy.class_names(), whole.class_names);
    EXPECT_EQ(lazy.image_shape(), (Shape{options.channels, options.height, options.width}));
    for (int64_t i = 0; i < 3; ++i) {
      const Example e = lazy.get(i);
      const std::span<const uint8_t> expected = whole.image(i);
      EXPECT_EQ(e.image.shape(), (Shape{whole.channels, whole.height, whole.width}));
      EXPECT_EQ(e.image.pixels, Bytes(expected.begin(), expected.end())) << i;
      EXPECT_EQ(e.label, whole.labels[i]);
      EXPECT_EQ(lazy.label(i), whole.labels[i]);
    }
    EXPECT_EQ(lazy.describe(2), (dir / "dog" / "1.png").string());
  }
}

TEST(ImageFolderDataset, ListsWithoutDecodingAndNamesABadFileWhenRead) {
  TempDir dir;
  ds_write_png(dir / "a" / "good.png", 4, 4, 1);
  write_file(dir / "a" / "broken.png", {1, 2, 3, 4});  // listed, not decoded
  const ImageFolderDataset lazy(dir.path());
  ASSERT_EQ(lazy.size(), 2);
  EXPECT_EQ(lazy.image_shape(), (Shape{3, 0, 0}));
  EXPECT_EQ(lazy.get(1).image.shape(), (Shape{3, 4, 4}));
  expect_error([&] { lazy.get(0); }, (dir / "a" / "broken.png").string() + ": not a PNG, JPEG or BMP file");
  expect_error([&] { lazy.get(2); }, "index 2 is outside [0, 2)");
  expect_error([&] { ImageFolderDataset(dir / "missing"); }, "not found");
  expect_error([&] { ImageFolderDataset(dir.path(), {.channels = 2}); }, "channels must be 1 or 3");
  // Through a loader, the error reaches the consumer naming the file.
  const DataLoader loader(std::make_shared<const ImageFolderDataset>(dir.path(), ImageFolderOptions{.height = 4, .width = 4}),
                          {.batch_size = 2, .workers = 2});
  expect_error([&] { ds_all_batches(loader.epoch(0)); }, "broken.png: not a PNG, JPEG or BMP file");
}
