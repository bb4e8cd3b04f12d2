// DataLoader: batching, shuffling, limits, transforms, prefetch, errors and shutdown.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <numeric>
#include <set>
#include <thread>

#include "common/test_util.hpp"

using namespace strata;
using namespace strata::data;
using strata::test::expect_error;

namespace {

// n images of c x h x w; pixel j of image i is (7 i + j) mod 256; label i mod classes.
ImageDataset synthetic(int64_t n, int64_t c = 1, int64_t h = 4, int64_t w = 4, int64_t classes = 10) {
  ImageDataset ds;
  ds.channels = c;
  ds.height = h;
  ds.width = w;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < c * h * w; ++j) ds.pixels.push_back(static_cast<uint8_t>((7 * i + j) % 256));
    ds.labels.push_back(i % classes);
  }
  for (int64_t k = 0; k < classes; ++k) ds.class_names.push_back("class " + std::to_string(k));
  return ds;
}

std::vector<Batch> all_batches(Epoch epoch) {
  std::vector<Batch> batches;
  for (Batch& b : epoch) batches.push_back(std::move(b));
  return batches;
}

std::vector<int64_t> visited(const DataLoader& loader, int64_t e) {
  std::vector<int64_t> indices;
  for (const Batch& b : all_batches(loader.epoch(e))) indices.insert(indices.end(), b.indices.begin(), b.indices.end());
  return indices;
}

void expect_same_batches(const std::vector<Batch>& a, const std::vector<Batch>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].indices, b[i].indices);
    EXPECT_EQ(a[i].images.to_vector<float>(), b[i].images.to_vector<float>()) << "batch " << i;
    EXPECT_EQ(a[i].labels.to_vector<int64_t>(), b[i].labels.to_vector<int64_t>());
  }
}

}  // namespace

TEST(DataLoader, BatchShapesValuesAndDropLast) {
  const auto ds = std::make_shared<const ImageDataset>(synthetic(10));
  DataLoader loader(ds, {.batch_size = 4});
  EXPECT_EQ(loader.size(), 10);
  EXPECT_EQ(loader.num_batches(), 3);
  EXPECT_EQ(loader.image_shape(), (Shape{1, 4, 4}));
  const std::vector<Batch> batches = all_batches(loader.epoch(0));
  ASSERT_EQ(batches.size(), 3u);
  EXPECT_EQ(batches[0].images.shape(), (Shape{4, 1, 4, 4}));
  EXPECT_EQ(batches[2].images.shape(), (Shape{2, 1, 4, 4}));
  EXPECT_EQ(batches[2].labels.shape(), (Shape{2}));
  EXPECT_EQ(batches[0].images.dtype(), DType::F32);
  EXPECT_EQ(batches[0].labels.dtype(), DType::I64);
  EXPECT_EQ(batches[1].indices, (std::vector<int64_t>{4, 5, 6, 7}));
  EXPECT_EQ(batches[1].labels.to_vector<int64_t>(), (std::vector<int64_t>{4, 5, 6, 7}));
  // Images are the pixels scaled to [0, 1].
  const std::vector<float> img = batches[1].images.to_vector<float>();
  for (int64_t k = 0; k < 4; ++k)
    for (int64_t j = 0; j < 16; ++j) EXPECT_EQ(img[k * 16 + j], static_cast<float>(ds->image(4 + k)[j]) / 255.0f);

  DataLoader dropping(ds, {.batch_size = 4, .drop_last = true});
  EXPECT_EQ(dropping.num_batches(), 2);
  const std::vector<Batch> kept = all_batches(dropping.epoch(0));
  ASSERT_EQ(kept.size(), 2u);
  for (const Batch& b : kept) EXPECT_EQ(b.images.size(0), 4);
}

TEST(DataLoader, EveryExampleOncePerEpochAndReproducibleOrder) {
  const auto ds = std::make_shared<const ImageDataset>(synthetic(103));
  const DataLoaderOptions options{.batch_size = 8, .shuffle = true, .seed = 42};
  DataLoader loader(ds, options);
  std::vector<std::vector<int64_t>> orders;
  for (int64_t e = 0; e < 3; ++e) {
    std::vector<int64_t> seen = visited(loader, e);
    EXPECT_EQ(seen, loader.order(e));
    std::vector<int64_t> sorted = seen;
    std::sort(sorted.begin(), sorted.end());
    std::vector<int64_t> all(103);
    std::iota(all.begin(), all.end(), int64_t{0});
    EXPECT_EQ(sorted, all) << "epoch " << e;
    orders.push_back(seen);
  }
  EXPECT_NE(orders[0], orders[1]);
  EXPECT_NE(orders[1], orders[2]);
  EXPECT_NE(orders[0], all_batches(DataLoader(ds, {.batch_size = 103}).epoch(0))[0].indices);

  // A new loader with the same seed, resumed at epoch 2, sees the same order.
  DataLoader resumed(ds, options);
  EXPECT_EQ(visited(resumed, 2), orders[2]);
  DataLoader other_seed(ds, {.batch_size = 8, .shuffle = true, .seed = 43});
  EXPECT_NE(visited(other_seed, 2), orders[2]);
}

TEST(DataLoader, LimitUsesTheFirstExamples) {
  const auto ds = std::make_shared<const ImageDataset>(synthetic(50));
  DataLoader loader(ds, {.batch_size = 4, .shuffle = true, .seed = 1, .limit = 7});
  EXPECT_EQ(loader.size(), 7);
  EXPECT_EQ(loader.num_batches(), 2);
  std::vector<int64_t> seen = visited(loader, 0);
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(DataLoader(ds, {.limit = 500}).size(), 50);  // a limit above the size uses everything
}

TEST(DataLoader, TransformMatchesTheTensorTransforms) {
  // 3 channels, crop with padding, flip, resize and normalise: each example of each batch equals
  // the tensor transforms applied to it with the generator of augmentation_seed.
  const auto ds = std::make_shared<const ImageDataset>(synthetic(20, 3, 6, 5));
  Transform t{.crop_padding = 2,
              .crop_height = 6,
              .crop_width = 4,
              .flip_probability = 0.5,
              .resize_height = 9,
              .resize_width = 7,
              .mean = {0.5f, 0.4f, 0.3f},
              .std = {0.2f, 0.25f, 0.3f}};
  DataLoader loader(ds, {.batch_size = 6, .shuffle = true, .seed = 9, .transform = t});
  EXPECT_EQ(loader.image_shape(), (Shape{3, 9, 7}));
  for (int64_t e = 0; e < 2; ++e)
    for (const Batch& batch : all_batches(loader.epoch(e))) {
      for (std::size_t k = 0; k < batch.indices.size(); ++k) {
        const int64_t i = batch.indices[k];
        Generator gen(augmentation_seed(9, e, i));
        Tensor x = to_float(ds->image(i), {1, 3, 6, 5});
        x = random_crop(x, 6, 4, 2, gen);
        x = random_horizontal_flip(x, 0.5, gen);
        x = normalize(resize_bilinear(x, 9, 7), t.mean, t.std);
        test::expect_close(batch.images.slice(0, k, k + 1), x, 1e-6);
      }
    }
}

TEST(DataLoader, NormalizeWithoutResizeIsExact) {
  const auto ds = std::make_shared<const ImageDataset>(synthetic(5, 2, 3, 3));
  DataLoader loader(ds, {.batch_size = 5, .transform = {.mean = {0.25f}, .std = {0.5f}}});
  const Batch batch = *loader.epoch(0).next();
  const Tensor expected = normalize(to_float(ds->pixels, {5, 2, 3, 3}), {0.25f}, {0.5f});
  EXPECT_EQ(batch.images.to_vector<float>(), expected.to_vector<float>());
}

TEST(DataLoader, PrefetchAndThreadsGiveTheSameBatches) {
  const auto ds = std::make_shared<const ImageDataset>(synthetic(37, 3, 8, 8));
  DataLoaderOptions options{.batch_size = 5,
                            .shuffle = true,
                            .seed = 3,
                            .transform = {.crop_padding = 2,
                                          .flip_probability = 0.5,
                                          .resize_height = 12,
                                          .resize_width = 12,
                                          .mean = {0.5f},
                                          .std = {0.25f}},
                            .prefetch = 0,
                            .num_threads = 1};
  const std::vector<Batch> sync = all_batches(DataLoader(ds, options).epoch(4));
  options.prefetch = 3;
  options.num_threads = 2;
  expect_same_batches(all_batches(DataLoader(ds, options).epoch(4)), sync);
  options.batch_size = 37;  // large enough to assemble in parallel
  const std::vector<Batch> whole = all_batches(DataLoader(ds, options).epoch(4));
  ASSERT_EQ(whole.size(), 1u);
  for (std::size_t b = 0; b < sync.size(); ++b)
    test::expect_close(whole[0].images.slice(0, 5 * b, 5 * b + sync[b].images.size(0)), sync[b].images, 0.0);
}

TEST(DataLoader, ExceptionsReachTheConsumerAfterEarlierBatches) {
  for (int prefetch : {0, 2}) {
    SCOPED_TRACE(prefetch);
    DataLoaderOptions options{.batch_size = 2, .prefetch = prefetch};
    options.batch_transform = [](Batch& b) {
      if (b.indices[0] == 4) fail("transform failed on batch starting at ", b.indices[0]);
    };
    DataLoader loader(synthetic(10), options);
    Epoch epoch = loader.epoch(0);
    EXPECT_TRUE(epoch.next().has_value());
    EXPECT_TRUE(epoch.next().has_value());
    expect_error([&] { epoch.next(); }, "transform failed on batch starting at 4");
    EXPECT_FALSE(epoch.next().has_value());  // the epoch ended
  }
}

TEST(DataLoader, BatchTransformCanModifyTheBatch) {
  DataLoaderOptions options{.batch_size = 3};
  options.batch_transform = [](Batch& b) { b.images = b.images * 2.0; };
  DataLoader loader(synthetic(3), options);
  const Batch batch = *loader.epoch(0).next();
  EXPECT_EQ(batch.images.to_vector<float>()[1], 2.0f / 255.0f);
}

TEST(DataLoader, DestroyingAnEpochMidwayDoesNotHang) {
  std::atomic<int> made{0};
  DataLoaderOptions options{.batch_size = 1, .prefetch = 2};
  options.batch_transform = [&](Batch&) {
    ++made;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  };
  DataLoader loader(synthetic(200), options);
  for (int taken : {0, 1, 5}) {
    Epoch epoch = loader.epoch(0);
    for (int i = 0; i < taken; ++i) ASSERT_TRUE(epoch.next().has_value());
  }
  // Each abandoned epoch prepared at most the batches taken, the queue and the one in progress.
  EXPECT_LE(made.load(), (0 + 3) + (1 + 3) + (5 + 3));
  {
    Epoch moved = loader.epoch(1);
    Epoch target = std::move(moved);
    EXPECT_TRUE(target.next().has_value());
    expect_error([&] { moved.next(); }, "moved from");
  }
}

TEST(DataLoader, ReportsTimeSpentWaiting) {
  DataLoaderOptions options{.batch_size = 2, .prefetch = 0};
  options.batch_transform = [](Batch&) { std::this_thread::sleep_for(std::chrono::milliseconds(10)); };
  DataLoader loader(synthetic(6), options);
  Epoch epoch = loader.epoch(0);
  EXPECT_EQ(epoch.wait_seconds(), 0.0);
  EXPECT_EQ(epoch.num_batches(), 3);
  EXPECT_EQ(epoch.index(), 0);
  for (Batch& b : epoch) EXPECT_EQ(b.images.size(0), 2);
  EXPECT_GE(epoch.wait_seconds(), 0.03);
  EXPECT_LT(epoch.wait_seconds(), 5.0);
}

TEST(DataLoader, ValidatesOptions) {
  const auto ds = std::make_shared<const ImageDataset>(synthetic(10, 3, 4, 4));
  expect_error([&] { DataLoader(ds, {.batch_size = 0}); }, "batch_size must be positive, got 0");
  expect_error([&] { DataLoader(ds, {.batch_size = 11, .drop_last = true}); },
               "no batches: drop_last with batch_size 11");
  expect_error([&] { DataLoader(ds, {.limit = -1}); }, "limit must be >= 0");
  expect_error([&] { DataLoader(ds, {.prefetch = -1}); }, "prefetch must be >= 0");
  expect_error(
      [&] {
        DataLoader(ds, {.transform = {.mean = {0.5f, 0.5f}, .std = {0.5f, 0.5f}}});
      },
      "mean has 2 values but the images have 3 channels");
  expect_error([&] { DataLoader(ds, {.transform = {.mean = {0.5f}}}); }, "give both mean and std");
  expect_error([&] { DataLoader(ds, {.transform = {.crop_padding = 1, .crop_height = 7}}); },
               "crop 7x4 does not fit the 4x4 images padded by 1");
  expect_error([&] { DataLoader(ds, {.transform = {.flip_probability = 2.0}}); }, "flip_probability must be in [0, 1]");
  expect_error([&] { DataLoader(ds, {.transform = {.resize_height = 8}}); }, "resize size must be positive");
  expect_error([&] { DataLoader(ds, {}).order(-1); }, "epoch must be >= 0");
  ImageDataset bad = synthetic(4);
  bad.labels[2] = 10;
  expect_error([&] { DataLoader(bad, {}); }, "label 10 of example 2 is outside [0, 10)");
  bad.labels[2] = 0;
  bad.pixels.pop_back();
  expect_error([&] { DataLoader(bad, {}); }, "63 pixels for 4 images of 1x4x4");
}

TEST(DataLoader, RealFashionMnistEpoch) {
  DataLoader loader(
      load_fashion_mnist(default_data_dir("fashion-mnist"), Split::Test),
      {.batch_size = 256, .shuffle = true, .seed = 1, .transform = {.mean = {0.2860f}, .std = {0.3530f}}});
  Epoch epoch = loader.epoch(0);
  int64_t examples = 0;
  std::set<int64_t> labels;
  for (Batch& b : epoch) {
    examples += b.images.size(0);
    for (int64_t l : b.labels.to_vector<int64_t>()) labels.insert(l);
  }
  EXPECT_EQ(examples, 10000);
  EXPECT_EQ(labels.size(), 10u);
  EXPECT_GE(epoch.wait_seconds(), 0.0);
}
