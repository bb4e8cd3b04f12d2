// The configuration of a training run: what to train on what, how, and where the outputs go.
// TrainConfig::for_model() starts from a zoo model's book recipe (plain SGD with the recipe's
// learning rate, batch size, epochs and input size; no augmentation); change any field after.
// config_to_json()/config_from_json() give the run's config.json and read it back exactly.
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "strata/shape.hpp"

namespace strata::train {

enum class DatasetKind : uint8_t { FashionMnist, Mnist, Cifar10, Folder };
enum class OptimizerKind : uint8_t { Sgd, Adam, AdamW };
enum class ScheduleKind : uint8_t { Constant, Step, Cosine, OneCycle };

// "fashion-mnist", "mnist", "cifar10", "folder"; "sgd", "adam", "adamw";
// "constant", "step", "cosine", "onecycle". The parsers throw strata::Error listing the choices.
const char* dataset_name(DatasetKind kind);
const char* optimizer_name(OptimizerKind kind);
const char* schedule_name(ScheduleKind kind);
DatasetKind parse_dataset(std::string_view name);
OptimizerKind parse_optimizer(std::string_view name);
ScheduleKind parse_schedule(std::string_view name);

// Limits that keep a mistyped value from asking for absurd amounts of memory or time; the CLI's
// flags take the same ranges.
inline constexpr int64_t kMaxEpochs = 100000;
inline constexpr int64_t kMaxBatch = 65536;
inline constexpr int kMaxThreads = 1024;
inline constexpr int kMaxWorkers = 256;  // the DataLoader's own bound
inline constexpr int64_t kMaxClasses = 100000;
// The input batch alone may not take more memory than this (a mistyped batch or input size).
inline constexpr double kMaxInputGiB = 4.0;

// Refuses a model input (batch first) whose floats alone would take more than kMaxInputGiB:
// "<what> floats would take X GiB (at most 4); <hint>".
void check_input_memory(const Shape& input, const std::string& what, const std::string& hint);

struct TrainConfig {
  // ---- Model and data ----
  std::string model;  // zoo name (see `strata models`), or a name for an ONNX init; recorded in every output file
  DatasetKind dataset = DatasetKind::FashionMnist;
  // Empty: default_data_dir(dataset) (train/data.hpp), which the run records. A folder dataset
  // reads DIR/train/<class>/* and DIR/test/<class>/* (see data::load_image_folder), or with a
  // val_split, DIR/<class>/* when it has no train/ sub-folder.
  std::filesystem::path data_dir;
  int64_t folder_channels = 3;  // folder datasets: decode images to 1 (grey) or 3 (RGB) channels
  int64_t limit_train = 0;      // use only the first N training / test images (0: all)
  int64_t limit_test = 0;
  // > 0: this fraction of the training split, drawn with `seed`, is the test set (the dataset's
  // own test split is not read), in [0, 0.9].
  double val_split = 0.0;

  // ---- Optimisation ----
  int64_t epochs = 10;
  int64_t batch_size = 256;
  double lr = 0.1;  // the base (cosine, step, constant) or peak (onecycle) learning rate
  OptimizerKind optimizer = OptimizerKind::Sgd;
  double momentum = 0.0;  // sgd only, in [0, 1)
  bool nesterov = false;  // sgd only; needs momentum > 0
  double weight_decay = 0.0;
  // Learning rate per iteration: constant; step (times step_gamma every step_epochs epochs;
  // 0: a third of the epochs, at least 1); cosine (linear warm-up over warmup_epochs, then
  // cosine annealing to 0); onecycle (PyTorch's OneCycleLR peaking at lr).
  ScheduleKind schedule = ScheduleKind::Constant;
  int64_t warmup_epochs = 0;
  int64_t step_epochs = 0;
  double step_gamma = 0.1;
  double label_smoothing = 0.0;  // in [0, 1)
  double clip_grad_norm = 0.0;   // clip the global gradient L2 norm to this (0: no clipping)

  // ---- Input pipeline (data::Transform) ----
  int64_t resize = 0;    // bilinear resize to resize x resize (0: the dataset's size)
  bool augment = false;  // random crop with crop_padding zeros + random horizontal flip
  int64_t crop_padding = 4;
  bool normalize = false;     // per-channel (x - mean) / std after scaling to [0, 1]
  std::vector<float> mean{};  // empty with normalize: computed from the training images
  std::vector<float> std{};
  bool shuffle = true;
  // torchvision-style transforms on each uint8 image before the steps above (for training, and
  // for evaluation), e.g. "RandomResizedCrop(224) ColorJitter(0.4, 0.4, 0.4)" and
  // "Resize(256) CenterCrop(224)"; see data::parse_image_transforms. Empty: none.
  std::string train_transforms;
  std::string eval_transforms;
  // Threads preparing the training batches (decoding a folder's images, augmenting), beside the
  // model's threads; not part of the results, so a resume may change it.
  int workers = 1;

  // ---- Run ----
  int threads = 0;                // OpenMP threads (0: OpenMP's default, recorded as the number used)
  // Run the model as written (each layer on its own) instead of compiled (Module::hybridize: the
  // graph traced, batch norms folded for evaluation, epilogues fused). The same results up to
  // rounding; part of the config because rounding is part of an exact resume.
  bool eager = false;
  // In a data-parallel job, batch norms train with the statistics of the whole global batch
  // (dist::convert_sync_batch_norm) instead of each rank's shard: the job then computes what one
  // process does. In one process it changes nothing.
  bool sync_bn = false;
  uint64_t seed = 0;              // weights, data order, augmentation and dropout
  // Start from these weights (safetensors) instead of Xavier init; or from an ONNX model (.onnx):
  // its architecture and weights, fine-tuned (onnx::load; `model` then only names the run).
  std::filesystem::path init;
  // With an ONNX init, a new classifier of this many classes in place of the file's last layer
  // (onnx::ImportOptions::num_classes); 0: the file's own.
  int64_t num_classes = 0;
  std::filesystem::path out_dir;  // where the run's files go (created)
  bool overwrite = false;         // start anew in an out_dir that already holds a run

  // The book's recipe of zoo model `model` (an unknown name is an error listing the zoo).
  static TrainConfig for_model(const std::string& model);

  bool operator==(const TrainConfig&) const = default;
};

// Throws strata::Error naming the first field that is out of range and what it accepts.
void validate(const TrainConfig& config);

// Every field as a JSON object (pretty-printed); config_from_json(config_to_json(c)) == c.
std::string config_to_json(const TrainConfig& config);
// Reads what config_to_json wrote. Missing fields keep their defaults; unknown fields, wrong
// types and out-of-range values are errors naming the field.
TrainConfig config_from_json(std::string_view json);

}  // namespace strata::train

#pragma GCC visibility pop
