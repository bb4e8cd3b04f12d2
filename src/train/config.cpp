// TrainConfig: the recipe defaults, validation, and the JSON form of config.json.
#include "strata/train/config.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>
#include <type_traits>
#include <utility>

#include "io/json.hpp"
#include "strata/data/image_transforms.hpp"
#include "strata/error.hpp"
#include "strata/models.hpp"

namespace strata::train {
namespace {

using json = nlohmann::json;

template <class Kind, std::size_t N>
using Names = std::array<std::pair<Kind, const char*>, N>;

constexpr Names<DatasetKind, 4> kDatasets = {{{DatasetKind::FashionMnist, "fashion-mnist"},
                                              {DatasetKind::Mnist, "mnist"},
                                              {DatasetKind::Cifar10, "cifar10"},
                                              {DatasetKind::Folder, "folder"}}};
constexpr Names<OptimizerKind, 3> kOptimizers = {
    {{OptimizerKind::Sgd, "sgd"}, {OptimizerKind::Adam, "adam"}, {OptimizerKind::AdamW, "adamw"}}};
constexpr Names<ScheduleKind, 4> kSchedules = {{{ScheduleKind::Constant, "constant"},
                                                {ScheduleKind::Step, "step"},
                                                {ScheduleKind::Cosine, "cosine"},
                                                {ScheduleKind::OneCycle, "onecycle"}}};

template <class Kind, std::size_t N>
const char* name_of(const Names<Kind, N>& names, Kind kind) {
  for (const auto& [k, name] : names)
    if (k == kind) return name;
  return "?";
}

template <class Kind, std::size_t N>
Kind parse_name(const Names<Kind, N>& names, std::string_view name, const char* what) {
  std::ostringstream choices;
  for (const auto& [k, n] : names) {
    if (name == n) return k;
    choices << (choices.tellp() > 0 ? ", " : "") << n;
  }
  fail("unknown ", what, " '", name, "'; choose one of: ", choices.str());
}

// Limits that keep a mistyped value from asking for absurd amounts of memory or time.
constexpr int64_t kMaxResize = 2048;
constexpr int64_t kMaxPadding = 256;

bool finite_nonneg(double v) { return std::isfinite(v) && v >= 0.0; }

// "train: NAME must be in [LO, HI]NOTE, got VALUE" unless LO <= VALUE <= HI.
void check_in_range(const char* name, int64_t value, int64_t lo, int64_t hi, const char* note = "") {
  STRATA_CHECK(value >= lo && value <= hi, "train: ", name, " must be in [", lo, ", ", hi, "]", note, ", got ", value);
}

}  // namespace

const char* dataset_name(DatasetKind kind) { return name_of(kDatasets, kind); }
const char* optimizer_name(OptimizerKind kind) { return name_of(kOptimizers, kind); }
const char* schedule_name(ScheduleKind kind) { return name_of(kSchedules, kind); }
DatasetKind parse_dataset(std::string_view name) { return parse_name(kDatasets, name, "dataset"); }
OptimizerKind parse_optimizer(std::string_view name) { return parse_name(kOptimizers, name, "optimizer"); }
ScheduleKind parse_schedule(std::string_view name) { return parse_name(kSchedules, name, "schedule"); }

TrainConfig TrainConfig::for_model(const std::string& model) {
  const models::Recipe& recipe = models::find(model).recipe;
  TrainConfig c;
  c.model = model;
  c.lr = recipe.lr;
  c.batch_size = recipe.batch_size;
  c.epochs = recipe.epochs;
  c.resize = recipe.resize;
  return c;
}

void check_input_memory(const Shape& input, const std::string& what, const std::string& hint) {
  double gib = 4.0 / (1 << 30);
  for (int64_t d : input) gib *= static_cast<double>(d);
  STRATA_CHECK(gib <= kMaxInputGiB, what, " floats would take ", gib, " GiB (at most ", kMaxInputGiB, "); ", hint);
}

void validate(const TrainConfig& c) {
  STRATA_CHECK(!c.model.empty(), "train: no model given; name one of `strata models`");
  STRATA_CHECK(c.folder_channels == 1 || c.folder_channels == 3,
               "train: folder_channels must be 1 (grey) or 3 (RGB), got ", c.folder_channels);
  STRATA_CHECK(c.limit_train >= 0 && c.limit_test >= 0, "train: limit_train and limit_test must be >= 0 (0: all), got ",
               c.limit_train, " and ", c.limit_test);
  STRATA_CHECK(c.val_split >= 0.0 && c.val_split <= 0.9, "train: val_split must be in [0, 0.9] (0: the dataset's test split), got ",
               c.val_split);
  check_in_range("epochs", c.epochs, 1, kMaxEpochs);
  check_in_range("batch_size", c.batch_size, 1, kMaxBatch);
  STRATA_CHECK(std::isfinite(c.lr) && c.lr > 0.0, "train: lr must be a positive number, got ", c.lr);
  STRATA_CHECK(finite_nonneg(c.momentum) && c.momentum < 1.0, "train: momentum must be in [0, 1), got ", c.momentum);
  STRATA_CHECK(c.optimizer == OptimizerKind::Sgd || (c.momentum == 0.0 && !c.nesterov),
               "train: momentum and nesterov apply to sgd only; ", optimizer_name(c.optimizer),
               " has its own moment estimates");
  STRATA_CHECK(!c.nesterov || c.momentum > 0.0, "train: nesterov needs momentum > 0 (e.g. 0.9)");
  STRATA_CHECK(finite_nonneg(c.weight_decay), "train: weight_decay must be >= 0, got ", c.weight_decay);
  STRATA_CHECK(c.warmup_epochs >= 0 && c.warmup_epochs < c.epochs,
               "train: warmup_epochs must be in [0, epochs = ", c.epochs, "), got ", c.warmup_epochs);
  STRATA_CHECK(c.warmup_epochs == 0 || c.schedule == ScheduleKind::Cosine,
               "train: warmup_epochs applies to the cosine schedule only, not ", schedule_name(c.schedule));
  check_in_range("step_epochs", c.step_epochs, 0, kMaxEpochs, " (0: a third of the epochs)");
  STRATA_CHECK(std::isfinite(c.step_gamma) && c.step_gamma > 0.0 && c.step_gamma <= 1.0,
               "train: step_gamma must be in (0, 1], got ", c.step_gamma);
  STRATA_CHECK(finite_nonneg(c.label_smoothing) && c.label_smoothing < 1.0,
               "train: label_smoothing must be in [0, 1), got ", c.label_smoothing);
  STRATA_CHECK(finite_nonneg(c.clip_grad_norm), "train: clip_grad_norm must be >= 0 (0: no clipping), got ",
               c.clip_grad_norm);
  check_in_range("resize", c.resize, 0, kMaxResize, " (0: keep the dataset's size)");
  check_in_range("crop_padding", c.crop_padding, 0, kMaxPadding);
  STRATA_CHECK(c.mean.size() == c.std.size(), "train: mean has ", c.mean.size(), " entries but std has ", c.std.size());
  STRATA_CHECK(c.normalize || c.mean.empty(), "train: mean and std are given but normalize is off");
  for (std::size_t i = 0; i < c.mean.size(); ++i)
    STRATA_CHECK(std::isfinite(c.mean[i]) && std::isfinite(c.std[i]) && c.std[i] > 0.0f, "train: channel ", i,
                 " has mean ", c.mean[i], " and std ", c.std[i], "; the std must be positive and both finite");
  for (const auto& [name, spec] : {std::pair{"train_transforms", &c.train_transforms},
                                   std::pair{"eval_transforms", &c.eval_transforms}}) {
    try {
      data::parse_image_transforms(*spec);
    } catch (const Error& e) {
      fail("train: ", name, ": ", e.what());
    }
  }
  check_in_range("workers", c.workers, 1, kMaxWorkers);
  check_in_range("threads", c.threads, 0, kMaxThreads, " (0: OpenMP's default)");
  check_in_range("num_classes", c.num_classes, 0, kMaxClasses, " (0: the ONNX file's classifier)");
  STRATA_CHECK(c.num_classes == 0 || c.init.extension() == ".onnx",
               "train: num_classes replaces the classifier of an ONNX init (init model.onnx); it has none here");
  STRATA_CHECK(!c.out_dir.empty(), "train: no output directory given (out_dir)");
}

// ---- JSON ----

std::string config_to_json(const TrainConfig& c) {
  const json j = {
      {"model", c.model},
      {"dataset", dataset_name(c.dataset)},
      {"data_dir", c.data_dir.string()},
      {"folder_channels", c.folder_channels},
      {"limit_train", c.limit_train},
      {"limit_test", c.limit_test},
      {"val_split", c.val_split},
      {"epochs", c.epochs},
      {"batch_size", c.batch_size},
      {"lr", c.lr},
      {"optimizer", optimizer_name(c.optimizer)},
      {"momentum", c.momentum},
      {"nesterov", c.nesterov},
      {"weight_decay", c.weight_decay},
      {"schedule", schedule_name(c.schedule)},
      {"warmup_epochs", c.warmup_epochs},
      {"step_epochs", c.step_epochs},
      {"step_gamma", c.step_gamma},
      {"label_smoothing", c.label_smoothing},
      {"clip_grad_norm", c.clip_grad_norm},
      {"resize", c.resize},
      {"augment", c.augment},
      {"crop_padding", c.crop_padding},
      {"normalize", c.normalize},
      {"mean", c.mean},
      {"std", c.std},
      {"shuffle", c.shuffle},
      {"train_transforms", c.train_transforms},
      {"eval_transforms", c.eval_transforms},
      {"workers", c.workers},
      {"threads", c.threads},
      {"eager", c.eager},
      {"sync_bn", c.sync_bn},
      // A string: JSON numbers above 2^53 lose digits in many readers.
      {"seed", std::to_string(c.seed)},
      {"init", c.init.string()},
      {"num_classes", c.num_classes},
      {"out_dir", c.out_dir.string()},
      {"overwrite", c.overwrite},
  };
  return j.dump(2);
}

namespace {

// Reads j[key] into `out` when present, checking its JSON type.
class Reader {
 public:
  explicit Reader(const json& j) : j_(j) {}

  template <class T>
  void get(const char* key, T& out) {
    seen_.push_back(key);
    auto it = j_.find(key);
    if (it == j_.end()) return;
    try {
      if constexpr (std::is_same_v<T, bool>) {
        STRATA_CHECK(it->is_boolean(), "must be true or false");
      } else if constexpr (std::is_integral_v<T>) {
        STRATA_CHECK(it->is_number_integer(), "must be a whole number");
      } else if constexpr (std::is_floating_point_v<T>) {
        STRATA_CHECK(it->is_number(), "must be a number");
      } else if constexpr (std::is_same_v<T, std::string>) {
        STRATA_CHECK(it->is_string(), "must be a string");
      } else {
        STRATA_CHECK(it->is_array() && std::all_of(it->begin(), it->end(), [](const json& v) { return v.is_number(); }),
                     "must be a list of numbers");
      }
      out = it->get<T>();
    } catch (const Error& e) {
      fail("config: '", key, "' ", e.what(), ", got ", io::json_excerpt(*it));
    } catch (const json::exception& e) {
      fail("config: '", key, "' is out of range: ", io::json_excerpt(*it));
    }
  }

  void check_unknown() const {
    for (const auto& [key, _] : j_.items())
      STRATA_CHECK(std::find(seen_.begin(), seen_.end(), key) != seen_.end(), "config: unknown field '",
                   detail::printable(key), "'");
  }

 private:
  const json& j_;
  std::vector<std::string> seen_;
};

}  // namespace

TrainConfig config_from_json(std::string_view text) {
  const json j = io::parse_json(text, "config: ", "the text");
  STRATA_CHECK(j.is_object(), "config: expected a JSON object, got ", j.type_name());
  TrainConfig c;
  Reader r(j);
  std::string dataset = dataset_name(c.dataset), optimizer = optimizer_name(c.optimizer),
              schedule = schedule_name(c.schedule), data_dir, init, out_dir, seed = std::to_string(c.seed);
  r.get("model", c.model);
  r.get("dataset", dataset);
  r.get("data_dir", data_dir);
  r.get("folder_channels", c.folder_channels);
  r.get("limit_train", c.limit_train);
  r.get("limit_test", c.limit_test);
  r.get("val_split", c.val_split);
  r.get("epochs", c.epochs);
  r.get("batch_size", c.batch_size);
  r.get("lr", c.lr);
  r.get("optimizer", optimizer);
  r.get("momentum", c.momentum);
  r.get("nesterov", c.nesterov);
  r.get("weight_decay", c.weight_decay);
  r.get("schedule", schedule);
  r.get("warmup_epochs", c.warmup_epochs);
  r.get("step_epochs", c.step_epochs);
  r.get("step_gamma", c.step_gamma);
  r.get("label_smoothing", c.label_smoothing);
  r.get("clip_grad_norm", c.clip_grad_norm);
  r.get("resize", c.resize);
  r.get("augment", c.augment);
  r.get("crop_padding", c.crop_padding);
  r.get("normalize", c.normalize);
  r.get("mean", c.mean);
  r.get("std", c.std);
  r.get("shuffle", c.shuffle);
  r.get("train_transforms", c.train_transforms);
  r.get("eval_transforms", c.eval_transforms);
  r.get("workers", c.workers);
  r.get("threads", c.threads);
  r.get("eager", c.eager);
  r.get("sync_bn", c.sync_bn);
  r.get("seed", seed);
  r.get("init", init);
  r.get("num_classes", c.num_classes);
  r.get("out_dir", out_dir);
  r.get("overwrite", c.overwrite);
  r.check_unknown();
  c.dataset = parse_dataset(dataset);
  c.optimizer = parse_optimizer(optimizer);
  c.schedule = parse_schedule(schedule);
  c.data_dir = data_dir;
  c.init = init;
  c.out_dir = out_dir;
  std::size_t used = 0;
  try {
    c.seed = std::stoull(seed, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  STRATA_CHECK(used == seed.size() && !seed.empty() && seed[0] != '-',
               "config: 'seed' must be a whole number >= 0 in a string, got '", seed, "'");
  validate(c);
  return c;
}

}  // namespace strata::train
