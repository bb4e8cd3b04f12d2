// Trainer: trains a zoo model (or a model of your own) on an image dataset the way the book
// does, writing a resumable run directory as it goes.
//
//   train::TrainConfig config = train::TrainConfig::for_model("lenet-bn");
//   config.out_dir = "runs/lenet-bn";
//   train::Trainer trainer(config);
//   train::TrainResult r = trainer.run({.on_epoch = [](const train::EpochMetrics& m) { ... }});
//
// Each epoch trains in training mode (cross-entropy loss; loss and train accuracy averaged over
// the epoch, as the book reports them), then evaluates the test split in evaluation mode. The
// learning rate follows the schedule per iteration. After every epoch the run directory holds
// (each file written to a temporary name and renamed, so a killed run leaves no corrupt file):
//   model.safetensors       the latest weights with Strata metadata (see train/model_file.hpp)
//   best.safetensors        the weights of the best test accuracy so far
//   checkpoint.safetensors  weights ("model." prefix), optimizer state ("optimizer." prefix),
//                           completed epochs, the default generator's state, the config and
//                           the metrics so far: everything Trainer::resume needs
//   metrics.csv             epoch,loss,train_acc,test_acc,examples_per_sec,data_wait_sec,lr,seconds
//   curves.svg              train loss, train acc and test acc against the epoch
//   config.json             the resolved config (written when the run starts)
//   model.onnx              the latest model as an ONNX file, for an ONNX init (config.init) and for
//                           a model the strata tool cannot build by name (a builder's, a registered
//                           one), with the metadata of model.safetensors, for strata
//                           eval/predict/bench/export
//
// Under mpirun or srun (dist::world() of several ranks) the same Trainer trains data-parallel:
// every rank iterates the same order and takes its contiguous share of each batch (batch_size
// stays the global batch; the first B % N ranks take one example more), the gradients are summed
// weighted by each rank's share (dist::DataParallel), so that a step equals one process's on the
// whole batch; the loss, accuracy and test evaluation are summed over the ranks; rank 0 alone
// writes the run directory, which every rank reads to resume. Every rank runs the same config
// (checked at the start; threads, workers and data_dir may differ).
//
// A resumed run ends with weights bit for bit equal to those of an uninterrupted run with the
// same config and thread count: the data order and augmentation are functions of (seed,
// epoch, index), and the checkpoint restores the optimizer state and the generator dropout
// draws from.
#pragma once
#pragma GCC visibility push(default)

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "strata/error.hpp"
#include "strata/models.hpp"
#include "strata/train/config.hpp"
#include "strata/train/data.hpp"

namespace strata::train {

// One epoch's results, as one row of metrics.csv.
struct EpochMetrics {
  int64_t epoch = 0;              // 1-based
  double loss = 0.0;              // mean training loss over the epoch's examples
  double train_acc = 0.0;         // training accuracy over the epoch, in training mode
  double test_acc = 0.0;          // test accuracy after the epoch, in evaluation mode
  double examples_per_sec = 0.0;  // training examples / training seconds (evaluation excluded)
  double data_wait_sec = 0.0;     // of the training seconds, those spent waiting for batches
  double lr = 0.0;                // the learning rate of the epoch's last iteration
  double seconds = 0.0;           // training and evaluation
};

// Reported after every training batch.
struct BatchProgress {
  int64_t epoch = 0;  // 1-based
  int64_t epochs = 0;
  int64_t batch = 0;  // 1-based
  int64_t num_batches = 0;
  double loss = 0.0;       // running mean over the epoch so far
  double train_acc = 0.0;  // running accuracy over the epoch so far
  double examples_per_sec = 0.0;
  double seconds = 0.0;  // since the epoch began
};

// Progress of the test-set evaluation that ends each epoch.
struct EvalProgress {
  int64_t epoch = 0;  // 1-based
  int64_t batch = 0;  // 1-based
  int64_t num_batches = 0;
};

struct TrainCallbacks {
  std::function<void(const BatchProgress&)> on_batch{};
  std::function<void(const EvalProgress&)> on_eval_batch{};
  std::function<void(const EpochMetrics&)> on_epoch{};  // after the epoch's files are written
};

// The files of a run directory.
struct RunFiles {
  explicit RunFiles(const std::filesystem::path& dir);
  std::filesystem::path dir, model, best, checkpoint, metrics, curves, config;
  std::filesystem::path onnx;  // model.onnx: the latest model as an ONNX file (see above)
};

struct TrainResult {
  std::vector<EpochMetrics> history;  // every epoch of the run, resumed ones included
  double test_acc = 0.0;              // after the last epoch
  double best_test_acc = 0.0;
  int64_t best_epoch = 0;
};

// The loss became NaN or infinite: training diverged. The run directory keeps the checkpoint
// of the last completed epoch.
class TrainingDiverged : public Error {
 public:
  TrainingDiverged(const std::string& message, int64_t epoch, int64_t batch)
      : Error(message), epoch_(epoch), batch_(batch) {}
  int64_t epoch() const { return epoch_; }  // 1-based
  int64_t batch() const { return batch_; }  // 1-based; 0: found after the epoch, in the weights

 private:
  int64_t epoch_, batch_;
};

// Builds the model to train; empty: the zoo model named by config.model.
using ModelBuilder = std::function<std::shared_ptr<nn::Module>(const models::ModelOptions&)>;

// What a resumed run may change: none of it alters the results, except `epochs`, which extends
// (or shortens) the run and then also its schedule.
struct ResumeOptions {
  std::optional<int64_t> epochs{};
  std::optional<int> threads{};
  std::optional<int> workers{};
  std::optional<std::filesystem::path> data_dir{};
};

class Trainer {
 public:
  // Starts a new run: validates the config, loads the data (unless given), builds and
  // initialises the model (the book's Xavier init from config.seed, or config.init), computes
  // the normalisation statistics when asked, and writes config.json to config.out_dir, which
  // must not hold a run already unless config.overwrite.
  explicit Trainer(TrainConfig config, TrainData data = {}, ModelBuilder build = {});
  // Continues the run in `dir` from its checkpoint. Pass the same `build` as the run began with.
  static Trainer resume(const std::filesystem::path& dir, const ResumeOptions& options = {}, TrainData data = {},
                        ModelBuilder build = {});

  Trainer(Trainer&&) noexcept;
  Trainer& operator=(Trainer&&) noexcept;
  ~Trainer();

  // Trains the remaining epochs. Throws TrainingDiverged on a NaN or infinite loss; an exception
  // thrown by a callback stops training and propagates (the files of finished epochs stay). After
  // an exception the model may be part-way through an epoch: continue with resume(), not run().
  TrainResult run(const TrainCallbacks& callbacks = {});

  const TrainConfig& config() const;  // resolved: threads, normalisation and step_epochs filled in
  nn::Module& model();
  const TrainData& data() const;
  const RunFiles& files() const;
  // What the user should know about the run's setup: a resumed run whose kernels differ from
  // the checkpoint's, for one.
  const std::vector<std::string>& notes() const;
  int64_t completed_epochs() const;
  const std::vector<EpochMetrics>& history() const;
  int64_t train_size() const;  // examples per epoch
  int64_t test_size() const;
  Shape input_shape() const;  // one example after the transform: C,H,W

 private:
  struct State;
  explicit Trainer(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace strata::train

#pragma GCC visibility pop
