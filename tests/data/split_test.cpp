// split_dataset: a seeded cut of a dataset into training and held-out images (--val-split).
#include "common/test_util.hpp"
#include "strata/data/dataset.hpp"

using namespace strata;
using namespace strata::data;

namespace {

// n images of 1x1x2 pixels: image i holds {i, i}, label i % 3.
ImageDataset numbered(int64_t n) {
  ImageDataset ds;
  ds.channels = 1, ds.height = 1, ds.width = 2;
  ds.class_names = {"a", "b", "c"};
  for (int64_t i = 0; i < n; ++i) {
    ds.pixels.push_back(static_cast<uint8_t>(i));
    ds.pixels.push_back(static_cast<uint8_t>(i));
    ds.labels.push_back(i % 3);
  }
  return ds;
}

std::vector<int> ids(const ImageDataset& ds) {
  std::vector<int> out;
  for (int64_t i = 0; i < ds.size(); ++i) {
    EXPECT_EQ(ds.image(i)[0], ds.image(i)[1]);
    EXPECT_EQ(ds.labels[i], ds.image(i)[0] % 3);  // each image keeps its label
    out.push_back(ds.image(i)[0]);
  }
  return out;
}

}  // namespace

TEST(SplitDataset, SeededCutKeepsEveryImageOnceInOrder) {
  const ImageDataset all = numbered(200);
  const auto [train, held] = split_dataset(all, 0.1, 7);
  EXPECT_EQ(train.size(), 180);
  EXPECT_EQ(held.size(), 20);
  EXPECT_EQ(train.class_names, all.class_names);
  EXPECT_EQ(held.class_names, all.class_names);
  std::vector<int> a = ids(train), b = ids(held);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_TRUE(std::is_sorted(b.begin(), b.end()));
  a.insert(a.end(), b.begin(), b.end());
  std::sort(a.begin(), a.end());
  std::vector<int> every(200);
  std::iota(every.begin(), every.end(), 0);
  EXPECT_EQ(a, every);

  EXPECT_EQ(ids(split_dataset(all, 0.1, 7).second), b);  // the same seed, the same cut
  EXPECT_NE(ids(split_dataset(all, 0.1, 8).second), b);
  // The cut is fixed by the algorithm (splitmix64 Fisher-Yates), not by the standard library.
  EXPECT_EQ(ids(split_dataset(numbered(10), 0.3, 1).second), (std::vector<int>{2, 4, 8}));  // as computed in Python
}

TEST(SplitDataset, RefusesACutThatLeavesAPartEmpty) {
  test::expect_error([] { split_dataset(numbered(10), 0.01, 1); }, "leaves one part empty");
  test::expect_error([] { split_dataset(numbered(10), 1.0, 1); }, "leaves one part empty");
}
