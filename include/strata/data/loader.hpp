// DataLoader: iterates a Dataset in batches of f32 images (B, C, H, W) and I64 labels (B). Each
// example goes through the image transforms (uint8, any size: torchvision-style geometry and
// colour augmentation), then the Transform (crop, flip, to float, resize, normalise) in one fused
// pass. Batches are prepared ahead by worker threads (each a whole batch; a dataset that decodes
// on demand, such as ImageFolderDataset, decodes in them) and delivered in order.
//
// Reproducibility: epoch e visits the examples in an order that is a pure function of (seed, e),
// and example i's augmentation in epoch e draws from Generator(augmentation_seed(seed, e, i)), so
// a run resumed at any epoch, with or without prefetch, on any number of workers and threads, sees
// the same batches.
//
//   data::DataLoader loader(data::load_fashion_mnist(dir, data::Split::Train),
//                           {.batch_size = 256, .shuffle = true, .seed = 42});
//   for (int64_t e = 0; e < epochs; ++e) {
//     data::Epoch epoch = loader.epoch(e);
//     for (data::Batch& batch : epoch) train_step(batch.images, batch.labels);
//     report(epoch.wait_seconds());  // time the loop spent waiting for data
//   }
#pragma once
#pragma GCC visibility push(default)

#include <cstddef>
#include <cstdint>
#include <functional>
#include <iterator>
#include <memory>
#include <optional>
#include <vector>

#include "strata/data/dataset.hpp"
#include "strata/data/image_transforms.hpp"
#include "strata/data/transforms.hpp"
#include "strata/shape.hpp"
#include "strata/tensor.hpp"

namespace strata::data {

struct Batch {
  Tensor images;                 // f32 (B, C, H, W)
  Tensor labels;                 // i64 (B)
  std::vector<int64_t> indices;  // the dataset index of each example
  // Examples in the whole batch over all shards (DataLoaderOptions::shards); B when unsharded.
  int64_t global_size = 0;
};

struct DataLoaderOptions {
  int64_t batch_size = 64;
  bool shuffle = false;
  uint64_t seed = 0;       // of the shuffled order and of the augmentation
  bool drop_last = false;  // drop the last batch when it is smaller than batch_size
  int64_t limit = 0;       // use only the first `limit` examples of the dataset (0: all of them)
  // Per-example uint8 transforms, applied first (RandomResizedCrop, ColorJitter, Resize, ...).
  ImageTransforms image_transforms{};
  Transform transform{};  // then per-example crop, flip, scaling to floats, resize and normalisation
  // Runs on every assembled batch after the per-example transform (on the prefetch thread when
  // prefetching); what it throws reaches the consumer's next().
  std::function<void(Batch&)> batch_transform{};
  int prefetch = 2;  // batches prepared ahead by the workers; 0: prepared inside next(), no workers
  // Background threads preparing batches when prefetching, each a whole batch at a time; up to
  // max(prefetch, workers) batches are in preparation or waiting.
  int workers = 1;
  // OpenMP threads assembling one batch. 0: one when prefetching (the workers then run beside the
  // model's threads, which keep the cores), OpenMP's default otherwise.
  int num_threads = 0;
  // Data parallelism: deliver only part `shard` of `shards` of every batch. The batches are those
  // of the unsharded loader (same order, augmentation and count), each cut into `shards`
  // contiguous parts, the first (B % shards) parts one example longer than the others; a part is
  // empty when the batch has fewer examples than shards.
  int64_t shard = 0;
  int64_t shards = 1;
};

// The seed of example `index`'s augmentation generator in epoch `epoch` (a SplitMix64 hash).
uint64_t augmentation_seed(uint64_t seed, int64_t epoch, int64_t index);

namespace detail {
// Internal (src/data/pipeline.hpp): hidden even where this declaration is the class's first.
#pragma GCC visibility push(hidden)
class ExamplePipeline;
#pragma GCC visibility pop
}  // namespace detail

// One pass over the data. Produced by DataLoader::epoch(); destroying it (also mid-epoch) stops
// and joins its prefetch thread.
class Epoch {
 public:
  Epoch(Epoch&&) noexcept;
  Epoch& operator=(Epoch&&) noexcept;
  ~Epoch();

  // The next batch, or nothing at the end of the epoch. An exception raised while preparing a
  // batch (by batch_transform, or running out of memory) is rethrown here, after the batches
  // before it; the epoch then ends.
  std::optional<Batch> next();

  int64_t index() const;        // the epoch number
  int64_t num_batches() const;  // batches in this epoch
  // Seconds the consumer has spent inside next() waiting for data (preparing the batch itself
  // when prefetch is 0).
  double wait_seconds() const;

  class iterator {
   public:
    using iterator_category = std::input_iterator_tag;
    using value_type = Batch;
    using difference_type = std::ptrdiff_t;
    Batch& operator*() { return *current_; }
    Batch* operator->() { return &*current_; }
    iterator& operator++() {
      current_ = epoch_->next();
      return *this;
    }
    friend bool operator==(const iterator& it, std::default_sentinel_t) { return !it.current_; }

   private:
    friend class Epoch;
    explicit iterator(Epoch* epoch) : epoch_(epoch), current_(epoch->next()) {}
    Epoch* epoch_;
    std::optional<Batch> current_;
  };
  iterator begin() { return iterator(this); }
  std::default_sentinel_t end() { return {}; }

 private:
  friend class DataLoader;
  struct State;
  explicit Epoch(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

class DataLoader {
 public:
  // Validates the dataset and the options (batch size, limit, transforms against the image
  // shape). When the images' size varies after the image transforms (a folder's images at their
  // own size, no resize), the first example fixes it: an example of another size is an error
  // naming it when its batch is prepared.
  DataLoader(DatasetPtr dataset, DataLoaderOptions options = {});
  DataLoader(std::shared_ptr<const ImageDataset> dataset, DataLoaderOptions options = {});
  DataLoader(ImageDataset dataset, DataLoaderOptions options = {});

  const Dataset& dataset() const { return *dataset_; }
  const DataLoaderOptions& options() const { return options_; }
  int64_t size() const;         // examples per epoch: the dataset size, at most `limit`
  int64_t num_batches() const;  // batches per epoch
  Shape image_shape() const;    // (C, H, W) of the images after the transform
  // Dataset indices in the order epoch `epoch` visits them (0..size()-1 without shuffle).
  std::vector<int64_t> order(int64_t epoch) const;
  // Starts epoch `epoch` (>= 0); with prefetch, its thread begins preparing batches at once.
  Epoch epoch(int64_t epoch) const;

 private:
  DatasetPtr dataset_;
  DataLoaderOptions options_;
  std::shared_ptr<const detail::ExamplePipeline> pipeline_;
};

}  // namespace strata::data

#pragma GCC visibility pop
