// DataLoader and Epoch. An epoch's batches are assembled by make_batch(), either inside next()
// (prefetch 0) or by one background thread that keeps up to `prefetch` finished batches in a
// queue. The thread stops at the end of the epoch, at its first exception (handed to the
// consumer after the batches before it) or when the Epoch is destroyed.
#include "strata/data/loader.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <map>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "data/pipeline.hpp"
#include "strata/random.hpp"

namespace strata::data {
namespace {

// Below this many output floats per batch, a parallel region costs more than it saves.
constexpr int64_t kParallelBatchElements = int64_t{1} << 15;
// The shuffle's stream id: an index no dataset reaches, so it never collides with an example's.
constexpr uint64_t kShuffleStream = ~uint64_t{0};

// SplitMix64's finaliser (Steele, Lea, Flood 2014): a bijective mix of all 64 bits.
uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t stream_seed(uint64_t seed, int64_t epoch, uint64_t stream) {
  return splitmix64(splitmix64(splitmix64(seed) ^ static_cast<uint64_t>(epoch)) ^ stream);
}

}  // namespace

uint64_t augmentation_seed(uint64_t seed, int64_t epoch, int64_t index) {
  return stream_seed(seed, epoch, static_cast<uint64_t>(index));
}

// ---- Epoch ----

struct Epoch::State {
  DatasetPtr dataset;
  const ImageDataset* in_memory = nullptr;  // the dataset's pixels, read in place, when no image transform runs
  std::shared_ptr<const detail::ExamplePipeline> pipeline;
  DataLoaderOptions options;
  int64_t epoch = 0;
  std::vector<int64_t> order;
  int64_t num_batches = 0;
  int64_t delivered = 0;  // batches handed to the consumer (or the epoch ended early: num_batches)
  double wait_seconds = 0.0;

  // Prefetch: workers take batch numbers in order (next_batch), prepare them concurrently and
  // file them under their number; the consumer takes them in order.
  std::vector<std::thread> workers;
  std::mutex mutex;
  std::condition_variable produced;  // a batch or an error is filed
  std::condition_variable consumed;  // a batch was taken, or stop
  int64_t next_batch = 0;            // the next batch a worker starts
  int64_t taken = 0;                 // batches the consumer has taken
  int64_t capacity = 0;              // batches in preparation or waiting, at most
  std::map<int64_t, Batch> ready;
  std::map<int64_t, std::exception_ptr> errors;
  bool stop = false;

  ~State() {
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    consumed.notify_all();
    for (std::thread& worker : workers) worker.join();
  }

  // The pixels of example i after the image transforms (into `image`), and the pipeline that
  // takes them: the loader's, or for an image of another size, one made for that size when it
  // gives the same output (the transform resizes).
  const detail::ExamplePipeline& transformed(int64_t i, Generator& gen, Image& image, int64_t& label,
                                             std::optional<detail::ExamplePipeline>& own_size) const {
    Example example = dataset->get(i);
    label = example.label;
    STRATA_CHECK(label >= 0 && label < dataset->num_classes(), "DataLoader: ", dataset->describe(i), " has label ",
                 label, ", outside [0, ", dataset->num_classes(), ") (", dataset->num_classes(), " class names)");
    image = options.image_transforms.empty() ? std::move(example.image)
                                             : apply(options.image_transforms, example.image, gen);
    STRATA_CHECK(static_cast<int64_t>(image.pixels.size()) == image.numel() && image.numel() > 0, "DataLoader: ",
                 dataset->describe(i), " has ", image.pixels.size(), " pixels for an image of ", image.channels, "x",
                 image.height, "x", image.width);
    const Shape expected = pipeline->input_shape();
    if (image.shape() == expected) return *pipeline;
    if (image.channels == expected[0] && options.transform.resize_height > 0 &&
        options.transform.crop_height == 0 && options.transform.crop_width == 0) {
      own_size.emplace(options.transform, image.channels, image.height, image.width);
      if (own_size->output_shape() == pipeline->output_shape()) return *own_size;
    }
    fail("DataLoader: ", dataset->describe(i), " is ", image.channels, "x", image.height, "x", image.width,
         options.image_transforms.empty() ? "" : " after the image transforms", " but the batches take ", expected[0],
         "x", expected[1], "x", expected[2],
         " (C x H x W, fixed by the first example); give every image one size: a resize (--resize N), or a "
         "transform of a fixed size such as Resize((h, w)), CenterCrop or RandomResizedCrop");
  }

  // Batch b of the epoch: examples order[b * batch_size, ...) through the pipeline (this
  // loader's shard of them).
  Batch make_batch(int64_t b) const {
    const int64_t size = static_cast<int64_t>(order.size());
    const int64_t global_begin = b * options.batch_size, global_end = std::min(global_begin + options.batch_size, size);
    const int64_t global = global_end - global_begin, part = global / options.shards, extra = global % options.shards;
    const int64_t begin = global_begin + options.shard * part + std::min(options.shard, extra);
    const int64_t end = begin + part + (options.shard < extra ? 1 : 0);
    Batch batch;
    batch.global_size = global;
    batch.indices.assign(order.begin() + begin, order.begin() + end);
    const int64_t count = end - begin;
    const Shape shape = pipeline->output_shape();
    batch.images = empty({count, shape[0], shape[1], shape[2]}, DType::F32);
    batch.labels = empty({count}, DType::I64);
    float* images = batch.images.mutable_data<float>();
    int64_t* labels = batch.labels.mutable_data<int64_t>();
    const int64_t in_numel = pipeline->input_numel(), out_numel = pipeline->output_numel();
    const int threads = options.num_threads > 0 ? options.num_threads
                        : options.prefetch > 0  ? 1
                                                : omp_get_max_threads();
    // An example that cannot be read fails its batch; exceptions must not leave the parallel region.
    std::vector<std::exception_ptr> failures(static_cast<std::size_t>(count));
#pragma omp parallel num_threads(threads) if (!in_memory || count * out_numel >= kParallelBatchElements)
    {
      detail::ExamplePipeline::Scratch scratch;
#pragma omp for schedule(dynamic, 1)
      for (int64_t k = 0; k < count; ++k) {
        const int64_t i = batch.indices[k];
        Generator gen(augmentation_seed(options.seed, epoch, i));
        try {
          if (in_memory) {
            pipeline->apply(in_memory->pixels.data() + i * in_numel, &gen, scratch, images + k * out_numel);
            labels[k] = in_memory->labels[i];
          } else {
            Image image;
            std::optional<detail::ExamplePipeline> own_size;
            transformed(i, gen, image, labels[k], own_size)
                .apply(image.pixels.data(), &gen, scratch, images + k * out_numel);
          }
        } catch (...) {
          failures[k] = std::current_exception();
        }
      }
    }
    for (const std::exception_ptr& failure : failures)
      if (failure) std::rethrow_exception(failure);
    if (options.batch_transform) options.batch_transform(batch);
    return batch;
  }

  void run_worker() {
    for (;;) {
      int64_t b = 0;
      {
        std::unique_lock lock(mutex);
        consumed.wait(lock, [&] { return stop || next_batch >= num_batches || next_batch < taken + capacity; });
        if (stop || next_batch >= num_batches) return;
        b = next_batch++;
      }
      try {
        Batch batch = make_batch(b);
        std::lock_guard lock(mutex);
        ready.emplace(b, std::move(batch));
      } catch (...) {
        std::lock_guard lock(mutex);
        errors.emplace(b, std::current_exception());
        stop = true;  // no new batches; those before b are already being prepared
      }
      produced.notify_all();
    }
  }

  Batch take() {
    if (workers.empty()) return make_batch(delivered);
    std::unique_lock lock(mutex);
    const int64_t b = taken;
    produced.wait(lock, [&] { return ready.contains(b) || errors.contains(b); });
    if (auto it = ready.find(b); it != ready.end()) {
      Batch batch = std::move(it->second);
      ready.erase(it);
      ++taken;
      lock.unlock();
      consumed.notify_all();
      return batch;
    }
    std::rethrow_exception(errors.at(b));
  }
};

Epoch::Epoch(std::unique_ptr<State> state) : state_(std::move(state)) {}
Epoch::Epoch(Epoch&&) noexcept = default;
Epoch& Epoch::operator=(Epoch&&) noexcept = default;
Epoch::~Epoch() = default;

std::optional<Batch> Epoch::next() {
  STRATA_CHECK(state_, "Epoch::next: this epoch was moved from");
  State& s = *state_;
  if (s.delivered >= s.num_batches) return std::nullopt;
  const auto start = std::chrono::steady_clock::now();
  try {
    Batch batch = s.take();
    ++s.delivered;
    s.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return batch;
  } catch (...) {
    s.delivered = s.num_batches;
    s.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    throw;
  }
}

int64_t Epoch::index() const { return state_ ? state_->epoch : -1; }
int64_t Epoch::num_batches() const { return state_ ? state_->num_batches : 0; }
double Epoch::wait_seconds() const { return state_ ? state_->wait_seconds : 0.0; }

// ---- DataLoader ----

DataLoader::DataLoader(DatasetPtr dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  STRATA_CHECK(dataset_, "DataLoader: the dataset is null");
  STRATA_CHECK(dataset_->size() > 0, "DataLoader: the dataset is empty");
  STRATA_CHECK(dataset_->num_classes() > 0, "DataLoader: the dataset has no class names; give one name per label");
  const Shape declared = dataset_->image_shape();
  STRATA_CHECK(declared.ndim() == 3 && declared[0] > 0 && declared[1] >= 0 && declared[2] >= 0,
               "DataLoader: the dataset's image_shape() is ", declared,
               "; expected (C, H, W) with C > 0 (H and W 0 when they vary)");
  STRATA_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ", options_.batch_size);
  STRATA_CHECK(options_.limit >= 0, "DataLoader: limit must be >= 0 (0: all examples), got ", options_.limit);
  STRATA_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be >= 0 (0: no background thread), got ",
               options_.prefetch);
  STRATA_CHECK(options_.workers >= 1 && options_.workers <= 256, "DataLoader: workers must be in [1, 256], got ",
               options_.workers);
  STRATA_CHECK(options_.num_threads >= 0, "DataLoader: num_threads must be >= 0 (0: OpenMP's default), got ",
               options_.num_threads);
  STRATA_CHECK(options_.shards >= 1 && options_.shard >= 0 && options_.shard < options_.shards,
               "DataLoader: shard ", options_.shard, " of ", options_.shards, " does not exist (shards >= 1, shard in [0, ",
               "shards))");
  STRATA_CHECK(num_batches() > 0, "DataLoader: no batches: drop_last with batch_size ", options_.batch_size,
               " and only ", size(), " examples; lower batch_size or turn drop_last off");
  for (const ImageTransformPtr& t : options_.image_transforms)
    STRATA_CHECK(t, "DataLoader: an image transform is null");
  // The pipeline's input: the shape after the image transforms; where it varies, the first
  // example's (drawn as epoch 0 draws it).
  Shape input = output_shape(options_.image_transforms, declared);
  if (input[1] == 0 || input[2] == 0) {
    Generator gen(augmentation_seed(options_.seed, 0, 0));
    input = apply(options_.image_transforms, dataset_->get(0).image, gen).shape();
  }
  pipeline_ = std::make_shared<const detail::ExamplePipeline>(options_.transform, input[0], input[1], input[2]);
}

DataLoader::DataLoader(std::shared_ptr<const ImageDataset> dataset, DataLoaderOptions options)
    : DataLoader(DatasetPtr(std::make_shared<const InMemoryDataset>(std::move(dataset))), std::move(options)) {}

DataLoader::DataLoader(ImageDataset dataset, DataLoaderOptions options)
    : DataLoader(std::make_shared<const ImageDataset>(std::move(dataset)), std::move(options)) {}

int64_t DataLoader::size() const {
  return options_.limit > 0 ? std::min(options_.limit, dataset_->size()) : dataset_->size();
}

int64_t DataLoader::num_batches() const {
  const int64_t n = size(), b = options_.batch_size;
  return options_.drop_last ? n / b : (n + b - 1) / b;
}

Shape DataLoader::image_shape() const { return pipeline_->output_shape(); }

std::vector<int64_t> DataLoader::order(int64_t epoch) const {
  STRATA_CHECK(epoch >= 0, "DataLoader: epoch must be >= 0, got ", epoch);
  std::vector<int64_t> order(static_cast<std::size_t>(size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  if (options_.shuffle) {  // Fisher-Yates
    Generator gen(stream_seed(options_.seed, epoch, kShuffleStream));
    for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[gen.below(i)]);
  }
  return order;
}

Epoch DataLoader::epoch(int64_t epoch) const {
  auto state = std::make_unique<Epoch::State>();
  state->dataset = dataset_;
  if (const auto* memory = dynamic_cast<const InMemoryDataset*>(dataset_.get());
      memory && options_.image_transforms.empty())
    state->in_memory = &memory->images();
  state->pipeline = pipeline_;
  state->options = options_;
  state->epoch = epoch;
  state->order = order(epoch);
  state->num_batches = num_batches();
  state->capacity = std::max(options_.prefetch, options_.workers);
  if (options_.prefetch > 0)
    for (int w = 0; w < options_.workers; ++w) state->workers.emplace_back([s = state.get()] { s->run_worker(); });
  return Epoch(std::move(state));
}

}  // namespace strata::data
