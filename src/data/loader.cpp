// DataLoader and Epoch. An epoch's batches are assembled by make_batch(), either inside next()
// (prefetch 0) or by one background thread that keeps up to `prefetch` finished batches in a
// queue. The thread stops at the end of the epoch, at its first exception (handed to the
// consumer after the batches before it) or when the Epoch is destroyed.
#include "strata/data/loader.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <mutex>
#include <numeric>
#include <thread>

#include "data/pipeline.hpp"
#include "strata/random.hpp"

namespace strata::data {
namespace {

// Below this many output floats per batch, a parallel region costs more than it saves.
constexpr int64_t kParallelElements = int64_t{1} << 15;
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
  std::shared_ptr<const ImageDataset> dataset;
  std::shared_ptr<const detail::ExamplePipeline> pipeline;
  DataLoaderOptions options;
  int64_t epoch = 0;
  std::vector<int64_t> order;
  int64_t num_batches = 0;
  int64_t delivered = 0;  // batches handed to the consumer (or the epoch ended early: num_batches)
  double wait_seconds = 0.0;

  // Prefetch: the worker pushes batches in order; the consumer pops them.
  std::thread worker;
  std::mutex mutex;
  std::condition_variable produced;  // a batch or an error is queued
  std::condition_variable consumed;  // room in the queue, or stop
  std::deque<Batch> queue;
  std::exception_ptr error;
  bool stop = false;

  ~State() {
    if (!worker.joinable()) return;
    {
      std::lock_guard lock(mutex);
      stop = true;
    }
    consumed.notify_all();
    worker.join();
  }

  // Batch b of the epoch: examples order[b * batch_size, ...) through the pipeline.
  Batch make_batch(int64_t b) const {
    const int64_t size = static_cast<int64_t>(order.size());
    const int64_t begin = b * options.batch_size, end = std::min(begin + options.batch_size, size);
    Batch batch;
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
#pragma omp parallel num_threads(threads) if (count * out_numel >= kParallelElements)
    {
      detail::ExamplePipeline::Scratch scratch;
#pragma omp for schedule(static)
      for (int64_t k = 0; k < count; ++k) {
        const int64_t i = batch.indices[k];
        Generator gen(augmentation_seed(options.seed, epoch, i));
        pipeline->apply(dataset->pixels.data() + i * in_numel, &gen, scratch, images + k * out_numel);
        labels[k] = dataset->labels[i];
      }
    }
    if (options.batch_transform) options.batch_transform(batch);
    return batch;
  }

  void run_worker() {
    for (int64_t b = 0; b < num_batches; ++b) {
      {
        std::unique_lock lock(mutex);
        consumed.wait(lock, [&] { return stop || static_cast<int64_t>(queue.size()) < options.prefetch; });
        if (stop) return;
      }
      try {
        Batch batch = make_batch(b);
        std::lock_guard lock(mutex);
        queue.push_back(std::move(batch));
      } catch (...) {
        std::lock_guard lock(mutex);
        error = std::current_exception();
        produced.notify_one();
        return;
      }
      produced.notify_one();
    }
  }

  Batch take() {
    if (!worker.joinable()) return make_batch(delivered);
    std::unique_lock lock(mutex);
    produced.wait(lock, [&] { return !queue.empty() || error; });
    if (queue.empty()) std::rethrow_exception(error);
    Batch batch = std::move(queue.front());
    queue.pop_front();
    lock.unlock();
    consumed.notify_one();
    return batch;
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

DataLoader::DataLoader(std::shared_ptr<const ImageDataset> dataset, DataLoaderOptions options)
    : dataset_(std::move(dataset)), options_(std::move(options)) {
  STRATA_CHECK(dataset_, "DataLoader: the dataset is null");
  dataset_->validate();
  STRATA_CHECK(dataset_->size() > 0, "DataLoader: the dataset is empty");
  STRATA_CHECK(options_.batch_size > 0, "DataLoader: batch_size must be positive, got ", options_.batch_size);
  STRATA_CHECK(options_.limit >= 0, "DataLoader: limit must be >= 0 (0: all examples), got ", options_.limit);
  STRATA_CHECK(options_.prefetch >= 0, "DataLoader: prefetch must be >= 0 (0: no background thread), got ",
               options_.prefetch);
  STRATA_CHECK(options_.num_threads >= 0, "DataLoader: num_threads must be >= 0 (0: OpenMP's default), got ",
               options_.num_threads);
  STRATA_CHECK(num_batches() > 0, "DataLoader: no batches: drop_last with batch_size ", options_.batch_size,
               " and only ", size(), " examples; lower batch_size or turn drop_last off");
  pipeline_ = std::make_shared<const detail::ExamplePipeline>(options_.transform, dataset_->channels, dataset_->height,
                                                              dataset_->width);
}

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
  state->pipeline = pipeline_;
  state->options = options_;
  state->epoch = epoch;
  state->order = order(epoch);
  state->num_batches = num_batches();
  if (options_.prefetch > 0) state->worker = std::thread([s = state.get()] { s->run_worker(); });
  return Epoch(std::move(state));
}

}  // namespace strata::data
