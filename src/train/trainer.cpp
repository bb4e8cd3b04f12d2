// Trainer: setting a run up (new or resumed), the epoch loop, and the files written after each
// epoch (see strata/train/trainer.hpp for what each holds and in which order they are written).
#include "strata/train/trainer.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>

#include "strata/autograd.hpp"
#include "strata/backend.hpp"
#include "strata/dist.hpp"
#include "strata/nn/weights.hpp"
#include "strata/onnx.hpp"
#include "strata/ops.hpp"
#include "strata/random.hpp"
#include "strata/train/evaluate.hpp"
#include "strata/train/report.hpp"
#include "train/checkpoint.hpp"
#include "train/distributed.hpp"
#include "train/run_lock.hpp"
#include "train/setup.hpp"
#include "train/text_file.hpp"
#include "train/weights_metadata.hpp"

namespace strata::train {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

std::string value_name(double v) { return std::isnan(v) ? "nan" : v > 0 ? "inf" : "-inf"; }

int64_t count_correct(const Tensor& logits, const Tensor& labels) {
  const std::vector<int64_t> predicted = logits.detach().argmax(1).to_vector<int64_t>();
  const int64_t* y = labels.data<int64_t>();
  int64_t correct = 0;
  for (std::size_t i = 0; i < predicted.size(); ++i) correct += predicted[i] == y[i];
  return correct;
}

bool all_finite(const std::vector<Tensor>& params) {
  for (const Tensor& p : params)
    for (float v : p.detach().to_vector<float>())
      if (!std::isfinite(v)) return false;
  return true;
}

// Sets the OpenMP thread count when one is given and returns the count in use.
int apply_threads(int threads) {
  if (threads > 0) omp_set_num_threads(threads);
  return omp_get_max_threads();
}

void check_data(const TrainData& d) {
  STRATA_CHECK(d.train && d.test, "Trainer: TrainData needs both the train and the test split");
  const Shape train_shape = d.train->image_shape(), test_shape = d.test->image_shape();
  STRATA_CHECK(train_shape == test_shape, "Trainer: the train images are ", train_shape, " but the test images are ",
               test_shape, " (C x H x W; 0: sizes vary)");
  if (d.train->class_names() != d.test->class_names()) {
    auto missing = [](const std::vector<std::string>& names, const std::vector<std::string>& from) {
      std::string list;
      for (const std::string& name : names)
        if (std::find(from.begin(), from.end(), name) == from.end())
          list += detail::cat(list.empty() ? "" : ", ", "'", detail::printable(name, 60), "'");
      return list;
    };
    const std::string no_test = missing(d.train->class_names(), d.test->class_names());
    const std::string no_train = missing(d.test->class_names(), d.train->class_names());
    fail("Trainer: the train split has ", d.train->num_classes(), " classes and the test split ", d.test->num_classes(),
         !no_test.empty() ? "; the test split lacks " + no_test : std::string(),
         !no_train.empty() ? "; the train split lacks " + no_train : std::string(),
         no_test.empty() && no_train.empty() ? " in another order" : "",
         "; both need the same classes (or use --val-split to draw the test set from the training images)");
  }
}

}  // namespace

RunFiles::RunFiles(const fs::path& d)
    : dir(d),
      model(d / "model.safetensors"),
      best(d / "best.safetensors"),
      checkpoint(d / "checkpoint.safetensors"),
      metrics(d / "metrics.csv"),
      curves(d / "curves.svg"),
      config(d / "config.json"),
      onnx(d / "model.onnx") {}

struct Trainer::State {
  TrainConfig config;
  TrainData data;
  RunFiles files{fs::path()};
  RunLock lock;  // of files.dir, held while this trainer may write there
  std::vector<std::string> notes;
  std::shared_ptr<nn::Module> model;
  WeightsInfo weights;
  std::unique_ptr<data::DataLoader> train_loader, test_loader;
  std::unique_ptr<optim::Optimizer> optimizer;
  std::unique_ptr<optim::LRSchedule> schedule;
  int64_t completed = 0;
  std::vector<EpochMetrics> history;
  double best_test_acc = -1.0;
  int64_t best_epoch = 0;
  bool onnx_model = false;  // the model is an ONNX init's (config.init), weights and all: set by prepare
  // model.onnx is written beside the weights: for an ONNX init's model, and for a model the
  // `strata` tool cannot build by name (a builder's or a registered one), so that the tool can
  // evaluate, predict with and benchmark it. Off after a failed export (a note says why).
  bool write_onnx = false;
  // The ranks of this run (dist::world()): one process, or a data-parallel job in which every rank
  // trains on its shard of each batch and only rank 0 writes the run directory.
  dist::Communicator* comm = &dist::world();
  std::unique_ptr<dist::DataParallel> dp;  // with more than one rank
  bool writer() const { return comm->rank() == 0; }

  // Loads the data when not given, then builds the loaders and the model (not initialised; from
  // an ONNX init, the file's, with its new classifier drawn from the default generator).
  void prepare(const ModelBuilder& build) {
    if (!data.train) data = load_data(config);
    check_data(data);
    const data::Dataset& train = *data.train;
    onnx_model = !build && config.init.extension() == ".onnx";
    const std::vector<models::ModelInfo>& zoo = models::zoo();
    write_onnx = onnx_model || std::none_of(zoo.begin(), zoo.end(),
                                            [&](const models::ModelInfo& m) { return m.name == config.model; });
    if (!build && !onnx_model) {
      const models::ModelInfo& info = models::find(config.model);
      STRATA_CHECK(info.input.ndim() == 4, config.model, " takes ", info.input.ndim() - 2, "-D inputs such as ",
                   info.input, "; training runs on 2-D image datasets");
    }
    const models::ModelOptions options{.in_channels = train.image_shape()[0], .num_classes = train.num_classes()};
    if (onnx_model)
      model = onnx::load(config.init, {.num_classes = config.num_classes}).module;
    else
      model = build ? build(options) : models::build(config.model, options);
    STRATA_CHECK(model, "Trainer: the model builder returned no model");
    const bool sync_bn = config.sync_bn && comm->size() > 1;
    if (sync_bn) {
      STRATA_CHECK(config.batch_size >= comm->size(), "train: --sync-bn needs an example of every batch on every rank "
                   "(synchronized batch norms are collectives), but a batch of ", config.batch_size, " leaves ",
                   comm->size() - config.batch_size, " of the ", comm->size(), " ranks none; use --batch-size ",
                   comm->size(), " or more");
      dist::convert_sync_batch_norm(*model, *comm);
    }
    if (!config.eager) model->hybridize();

    // A final batch that would give a rank a single example is dropped: batch normalization needs
    // two (in one process: a final batch of one example). Synchronized over the ranks, it needs
    // two in all and one on each rank (its collectives).
    const int64_t train_size = config.limit_train > 0 ? std::min(config.limit_train, train.size()) : train.size();
    const int64_t last_batch = train_size % config.batch_size;
    const int64_t fewest_last_batch = std::max<int64_t>(2, (sync_bn ? 1 : 2) * comm->size());
    train_loader = std::make_unique<data::DataLoader>(
        data.train, data::DataLoaderOptions{.batch_size = config.batch_size,
                                            .shuffle = config.shuffle,
                                            .seed = config.seed,
                                            .drop_last =
                                                train_size > 1 && last_batch > 0 && last_batch < fewest_last_batch,
                                            .limit = config.limit_train,
                                            .image_transforms = make_image_transforms(config, true),
                                            .transform = make_transform(config, true),
                                            .workers = config.workers,
                                            .shard = comm->rank(),
                                            .shards = comm->size()});
    test_loader = std::make_unique<data::DataLoader>(
        data.test, data::DataLoaderOptions{.batch_size = config.batch_size,
                                           .limit = config.limit_test,
                                           .image_transforms = make_image_transforms(config, false),
                                           .transform = make_transform(config, false),
                                           .workers = config.workers,
                                           .shard = comm->rank(),
                                           .shards = comm->size()});
    const Shape input = train_loader->image_shape();
    check_input_memory({config.batch_size, input[0], input[1], input[2]},
                       detail::cat("train: a batch of ", config.batch_size, " images of ", input[0], "x", input[1],
                                   "x", input[2]),
                       "lower the batch size or the resize");
    weights =
        WeightsInfo{config.model,         input,       train.class_names(), dataset_name(config.dataset),
                    config.mean,          config.std, config.eval_transforms};
    const int64_t book_size = build || onnx_model ? 0 : models::find(config.model).recipe.resize;
    const Shape out = output_shape_for(
        *model, input, config.model,
        detail::cat("resize the images to the size it was made for",
                    book_size > 0 ? detail::cat(" (--resize ", book_size, ")") : std::string()));
    const int64_t classes = train.num_classes();
    STRATA_CHECK(out.ndim() == 2 && out[1] == classes, config.model, " gives outputs of shape ", out,
                 " for one image, but the dataset has ", classes, " classes",
                 onnx_model ? detail::cat("; give it a new classifier of ", classes, " (--num-classes ", classes, ")")
                            : std::string());
    optimizer = make_optimizer(config, model->parameters());
    schedule = make_schedule(config, train_loader->num_batches());
  }

  // In a job of several ranks: checks that every rank trains the same config on the same data, then gives every
  // rank rank 0's weights (DataParallel checks the parameters' names and shapes first).
  void start_data_parallel() {
    if (comm->size() == 1) return;
    check_same_run(*comm, config,
                   {train_loader->size(), test_loader->size(), weights.classes, train_loader->image_shape()});
    dp = std::make_unique<dist::DataParallel>(*model, *comm);
  }

  // The latest weights: model.safetensors, and model.onnx when write_onnx (export leaves the
  // model's modes as they were).
  void save_model() {
    nn::save_weights(*model, files.model, to_metadata(weights));
    if (!write_onnx) return;
    const Shape& in = weights.input;
    try {
      onnx::save(*model, {1, in[0], in[1], in[2]}, files.onnx,
                 {.dynamic_batch = true, .model_name = config.model, .metadata = to_metadata(weights)});
    } catch (const Error& e) {
      if (onnx_model) throw;
      write_onnx = false;
      notes.push_back(detail::cat("model.onnx is not written (", e.what(), "): only this program can load ",
                                  config.model, "'s weights"));
    }
  }

  Checkpoint checkpoint() const {
    return Checkpoint{.config = config,
                      .weights = weights,
                      .epoch = completed,
                      .rng = default_generator().state(),
                      .history = history,
                      .best_test_acc = best_test_acc,
                      .best_epoch = best_epoch,
                      .backend = backend_name(cpu_backend()),
                      .model = model->state_dict(),
                      .optimizer = optimizer->state_dict()};
  }

  // metrics.csv and curves.svg from the history.
  void write_reports() const {
    write_text_file(files.metrics, metrics_csv(history), "metrics.csv");
    write_text_file(files.curves,
                    curves_svg(history, config.epochs, config.model + " on " + dataset_name(config.dataset)),
                    "curves.svg");
  }

  std::string diverged(const std::string& what, int64_t epoch) const {
    std::string message = detail::cat(what, ": training diverged; try a smaller --lr.");
    if (completed > 0)
      message += detail::cat(" The last good checkpoint (epoch ", completed, ") is in ", files.dir.string());
    else
      message += detail::cat(" No epoch finished before epoch ", epoch, ", so there is no checkpoint.");
    return message;
  }

  EpochMetrics train_epoch(int64_t e, const TrainCallbacks& callbacks);
};

EpochMetrics Trainer::State::train_epoch(int64_t e, const TrainCallbacks& callbacks) {
  const auto start = Clock::now();
  const std::vector<Tensor> params = model->parameters();
  const int64_t nb = train_loader->num_batches();
  model->train();
  data::Epoch epoch = train_loader->epoch(e);
  double loss_sum = 0.0, lr = 0.0;
  int64_t correct = 0, seen = 0, b = 0;
  for (data::Batch& batch : epoch) {
    lr = schedule->lr(e * nb + b);
    ++b;
    optimizer->set_lr(lr);
    optimizer->zero_grad();
    // This rank's examples: the whole batch, or in a job this rank's shard of it (maybe none).
    const int64_t n = batch.labels.numel();
    Tensor loss;
    // The batch's loss sum, correct predictions and examples over all ranks.
    std::array<double, 3> sums{0.0, 0.0, 0.0};
    if (n > 0) {
      const Tensor logits = (*model)(batch.images);
      loss = cross_entropy(logits, batch.labels, config.label_smoothing);
      sums = {loss.item() * static_cast<double>(n), static_cast<double>(count_correct(logits, batch.labels)),
              static_cast<double>(n)};
    }
    comm->all_reduce_sum(sums);
    const double l = sums[0] / sums[2];
    if (!std::isfinite(l))
      throw TrainingDiverged(
          diverged(detail::cat("loss became ", value_name(l), " at epoch ", e + 1, ", batch ", b), e + 1), e + 1, b);
    // Each rank's loss is the mean over its shard: weighted by its share of the batch, the sum over
    // the ranks is the gradient of the mean over the whole batch.
    if (dp) dp->set_gradient_weight(static_cast<double>(n) / static_cast<double>(batch.global_size));
    if (n > 0) loss.backward();
    if (dp) dp->finish_gradients();
    if (config.clip_grad_norm > 0.0) optim::clip_grad_norm(params, config.clip_grad_norm);
    optimizer->step();
    loss_sum += sums[0];
    correct += static_cast<int64_t>(sums[1]);
    seen += static_cast<int64_t>(sums[2]);
    if (callbacks.on_batch) {
      const double t = seconds_since(start);
      callbacks.on_batch({e + 1, config.epochs, b, nb, loss_sum / seen, static_cast<double>(correct) / seen,
                          t > 0 ? seen / t : 0.0, t});
    }
  }
  const double train_seconds = seconds_since(start);
  if (!all_finite(params))
    throw TrainingDiverged(diverged(detail::cat("the weights became nan or inf in epoch ", e + 1), e + 1), e + 1, 0);
  Evaluation evaluation = evaluate(*model, *test_loader, [&](int64_t batch, int64_t num_batches) {
    if (callbacks.on_eval_batch) callbacks.on_eval_batch({e + 1, batch, num_batches});
  });
  all_reduce(*comm, evaluation);  // every rank evaluated its shard of the test set
  const double test_acc = evaluation.accuracy();
  return {e + 1,    loss_sum / seen,      static_cast<double>(correct) / seen,
          test_acc, seen / train_seconds, epoch.wait_seconds(),
          lr,       seconds_since(start)};
}

// ---- Trainer ----

Trainer::Trainer(std::unique_ptr<State> state) : s_(std::move(state)) {}
Trainer::Trainer(Trainer&&) noexcept = default;
Trainer& Trainer::operator=(Trainer&&) noexcept = default;
Trainer::~Trainer() = default;

Trainer::Trainer(TrainConfig config, TrainData data, ModelBuilder build) : s_(std::make_unique<State>()) {
  State& s = *s_;
  validate(config);
  s.files = RunFiles(config.out_dir);
  std::error_code ec;
  STRATA_CHECK(!s.writer() || config.overwrite || !fs::exists(s.files.checkpoint, ec), "train: ", config.out_dir.string(),
               " already holds a run (checkpoint.safetensors); continue it with --resume ", config.out_dir.string(),
               ", or pass --overwrite to replace it, or choose another --out");
  config.threads = apply_threads(config.threads);
  if (config.data_dir.empty()) config.data_dir = default_data_dir(config.dataset);
  if (config.schedule == ScheduleKind::Step && config.step_epochs == 0)
    config.step_epochs = std::max<int64_t>(1, config.epochs / 3);
  if (!data.train) data = load_data(config);
  if (config.normalize && config.mean.empty()) {
    ChannelStats stats = channel_stats(*data.train, config.limit_train);
    config.mean = std::move(stats.mean);
    config.std = std::move(stats.std);
  }
  s.config = std::move(config);
  s.data = std::move(data);

  manual_seed(s.config.seed);
  s.prepare(build);
  if (!s.onnx_model) {
    models::init_book(*s.model);
    if (!s.config.init.empty()) nn::load_weights(*s.model, s.config.init);
  }
  s.start_data_parallel();
  if (!s.writer()) return;

  // An earlier run's files go only now that the new run is set up (and no other run writes there).
  s.lock = RunLock(s.files.dir);
  for (const fs::path& p :
       {s.files.model, s.files.best, s.files.checkpoint, s.files.metrics, s.files.curves, s.files.onnx})
    fs::remove(p, ec);
  write_text_file(s.files.config, config_to_json(s.config) + "\n", "config.json");
}

Trainer Trainer::resume(const fs::path& dir, const ResumeOptions& options, TrainData data, ModelBuilder build) {
  auto state = std::make_unique<State>();
  State& s = *state;
  s.files = RunFiles(dir);
  std::error_code ec;
  STRATA_CHECK(!fs::is_regular_file(dir, ec), "resume: ", dir.string(),
               " is a file; --resume takes the output directory of a run (the one holding checkpoint.safetensors)");
  if (s.writer() && fs::is_directory(dir, ec)) s.lock = RunLock(dir);  // else load_checkpoint says what is missing
  Checkpoint c = load_checkpoint(s.files.checkpoint);
  s.config = c.config;
  s.config.out_dir = dir;
  if (options.epochs) s.config.epochs = *options.epochs;
  if (options.threads) s.config.threads = *options.threads;
  if (options.workers) s.config.workers = *options.workers;
  if (options.data_dir) s.config.data_dir = *options.data_dir;
  validate(s.config);
  STRATA_CHECK(s.config.epochs >= c.epoch, "resume: ", dir.string(), " has already trained ", c.epoch,
               " epochs; --epochs ", s.config.epochs, " would be fewer");
  s.config.threads = apply_threads(s.config.threads);
  s.data = std::move(data);
  s.prepare(build);
  STRATA_CHECK(s.weights.classes == c.weights.classes && s.weights.input == c.weights.input,
               "resume: ", dataset_name(s.config.dataset), " in ", s.config.data_dir.string(), " gives ",
               s.weights.classes.size(), " classes of ", s.weights.input, " images but the run trained on ",
               c.weights.classes.size(), " classes of ", c.weights.input, " (or the class names differ)");
  try {
    s.model->load_state_dict(c.model);
    s.optimizer->load_state_dict(c.optimizer);
  } catch (const Error& e) {
    fail("resume: ", s.files.checkpoint.string(), " does not fit ", s.config.model, ": ", e.what());
  }
  if (!c.backend.empty() && c.backend != backend_name(cpu_backend()))
    s.notes.push_back(detail::cat("the run trained on the ", c.backend, " kernels and continues on the ",
                                  backend_name(cpu_backend()), " ones: the results differ from an uninterrupted run's ",
                                  "by rounding (pass --backend ", c.backend, " to continue exactly)"));
  default_generator().set_state(c.rng);
  s.completed = c.epoch;
  s.history = std::move(c.history);
  s.best_test_acc = c.best_test_acc;
  s.best_epoch = c.best_epoch;
  s.start_data_parallel();
  if (!s.writer()) return Trainer(std::move(state));
  // The files after the checkpoint may be older if the run was killed while writing them.
  write_text_file(s.files.config, config_to_json(s.config) + "\n", "config.json");
  s.save_model();
  s.write_reports();
  return Trainer(std::move(state));
}

TrainResult Trainer::run(const TrainCallbacks& callbacks) {
  State& s = *s_;
  apply_threads(s.config.threads);
  for (int64_t e = s.completed; e < s.config.epochs; ++e) {
    const EpochMetrics m = s.train_epoch(e, callbacks);
    s.history.push_back(m);
    s.completed = e + 1;
    // best first, then the checkpoint: a run killed in between redoes this epoch and rewrites best.
    // In a job, rank 0 alone writes the run directory.
    if (m.test_acc > s.best_test_acc) {
      s.best_test_acc = m.test_acc;
      s.best_epoch = m.epoch;
      if (s.writer()) nn::save_weights(*s.model, s.files.best, to_metadata(s.weights));
    }
    if (s.writer()) {
      save_checkpoint(s.files.checkpoint, s.checkpoint());
      s.save_model();
      s.write_reports();
    }
    if (callbacks.on_epoch) callbacks.on_epoch(m);
  }
  TrainResult r;
  r.history = s.history;
  r.test_acc = s.history.empty() ? 0.0 : s.history.back().test_acc;
  r.best_test_acc = std::max(s.best_test_acc, 0.0);
  r.best_epoch = s.best_epoch;
  return r;
}

const TrainConfig& Trainer::config() const { return s_->config; }
nn::Module& Trainer::model() { return *s_->model; }
const TrainData& Trainer::data() const { return s_->data; }
const RunFiles& Trainer::files() const { return s_->files; }
const std::vector<std::string>& Trainer::notes() const { return s_->notes; }
int64_t Trainer::completed_epochs() const { return s_->completed; }
const std::vector<EpochMetrics>& Trainer::history() const { return s_->history; }
int64_t Trainer::train_size() const { return s_->train_loader->size(); }
int64_t Trainer::test_size() const { return s_->test_loader->size(); }
Shape Trainer::input_shape() const { return s_->train_loader->image_shape(); }

}  // namespace strata::train
