// DataLoader shards (data parallelism): the shards of every batch, put together in rank order,
// are the unsharded loader's batch, images, labels and augmentation included.
#include "common/test_util.hpp"

using namespace strata;
using namespace strata::data;

namespace {

// n 1x6x6 images whose pixels identify them; label i mod 10.
ImageDataset shard_dataset(int64_t n) {
  ImageDataset ds;
  ds.channels = 1;
  ds.height = 6;
  ds.width = 6;
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < 36; ++j) ds.pixels.push_back(static_cast<uint8_t>((11 * i + j) % 256));
    ds.labels.push_back(i % 10);
  }
  for (int64_t k = 0; k < 10; ++k) ds.class_names.push_back(std::to_string(k));
  return ds;
}

TEST(DataLoaderShards, ShardsInRankOrderAreTheUnshardedBatch) {
  auto dataset = std::make_shared<const ImageDataset>(shard_dataset(23));
  // Random crops and flips: each shard must draw example i's augmentation as one process does.
  DataLoaderOptions options{.batch_size = 10, .shuffle = true, .seed = 5,
                            .transform = Transform{.crop_padding = 2, .flip_probability = 0.5}};
  const DataLoader whole(dataset, options);
  const int64_t shards = 3;
  std::vector<DataLoader> parts;
  for (int64_t s = 0; s < shards; ++s) {
    DataLoaderOptions o = options;
    o.shard = s;
    o.shards = shards;
    parts.emplace_back(dataset, o);
    EXPECT_EQ(parts.back().num_batches(), whole.num_batches());
  }
  // Batches of 10, 10 and 3: shards of 4, 3, 3 and of 1, 1, 1.
  const std::vector<std::vector<int64_t>> sizes{{4, 3, 3}, {4, 3, 3}, {1, 1, 1}};
  for (int64_t e : {0, 1}) {
    Epoch all = whole.epoch(e);
    std::vector<Epoch> each;
    for (const DataLoader& p : parts) each.push_back(p.epoch(e));
    for (std::size_t b = 0; b < sizes.size(); ++b) {
      const Batch expected = *all.next();
      std::vector<int64_t> indices;
      std::vector<float> images, labels;
      for (int64_t s = 0; s < shards; ++s) {
        const Batch got = *each[s].next();
        EXPECT_EQ(got.labels.numel(), sizes[b][s]) << "batch " << b << " shard " << s;
        EXPECT_EQ(got.global_size, expected.labels.numel());
        indices.insert(indices.end(), got.indices.begin(), got.indices.end());
        for (float v : got.images.to_vector<float>()) images.push_back(v);
        for (float v : got.labels.to_vector<float>()) labels.push_back(v);
      }
      EXPECT_EQ(indices, expected.indices);
      EXPECT_EQ(images, expected.images.to_vector<float>());
      EXPECT_EQ(labels, expected.labels.to_vector<float>());
    }
    for (Epoch& ep : each) EXPECT_FALSE(ep.next().has_value());
  }
}

TEST(DataLoaderShards, MoreShardsThanExamplesGiveEmptyShards) {
  const DataLoader loader(shard_dataset(2), {.batch_size = 2, .shard = 2, .shards = 3});
  const Batch b = *loader.epoch(0).next();
  EXPECT_EQ(b.labels.numel(), 0);
  EXPECT_EQ(b.images.shape(), (Shape{0, 1, 6, 6}));
  EXPECT_EQ(b.global_size, 2);
}

TEST(DataLoaderShards, RefusesAShardOutsideTheShards) {
  test::expect_error([] { DataLoader(shard_dataset(4), {.shard = 2, .shards = 2}); }, "shard 2 of 2 does not exist");
  test::expect_error([] { DataLoader(shard_dataset(4), {.shards = 0}); }, "shard 0 of 0 does not exist");
}

}  // namespace
