// strata train MODEL [options]: trains a zoo model with the book's recipe (or the options given),
// printing the book's epoch line, and leaves weights, metrics and curves in --out.
// strata train --resume DIR continues an interrupted run exactly.
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "commands.hpp"
#include "job.hpp"
#include "progress.hpp"
#include "strata/backend.hpp"
#include "strata/dist.hpp"
#include "strata/train.hpp"

namespace strata::cli {

namespace {

struct TrainArgs {
  std::string model, data, dataset = "fashion-mnist", optimizer = "sgd", schedule = "constant";
  std::string out, init, resume, device = "cpu", backend, train_transforms, eval_transforms;
  int64_t channels = 3, epochs = 0, batch_size = 0, resize = 0, warmup_epochs = 0, step_epochs = 0;
  int64_t crop_padding = 4, limit_train = 0, limit_test = 0, num_classes = 0;
  double val_split = 0.0;
  double lr = 0, momentum = 0, weight_decay = 0, gamma = 0.1, label_smoothing = 0, clip = 0;
  int threads = 0, workers = 1;
  uint64_t seed = 0;
  bool nesterov = false, augment = false, normalize = false, no_shuffle = false, overwrite = false, json = false;
  bool eager = false, sync_bn = false;
};

// Finite numbers > 0 (or >= 0); CLI11's own PositiveNumber message prints the whole double range.
// Digits only, at most 2^64-1 (CLI11 turns "-1" and 2^64 into 2^64-1).
CLI::Validator unsigned_64_check() {
  return CLI::Validator(
      [](const std::string& text) -> std::string {
        uint64_t value = 0;
        const char* end = text.data() + text.size();
        const auto [ptr, ec] = std::from_chars(text.data(), end, value);
        if (text.empty() || ec != std::errc() || ptr != end)
          return "expected a whole number from 0 to 18446744073709551615, got '" + text + "'";
        return {};
      },
      "UINT64");
}

CLI::Validator number_check(bool zero_allowed) {
  return CLI::Validator(
      [zero_allowed](std::string& text) {
        std::size_t used = 0;
        double v = 0;
        try {
          v = std::stod(text, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        const bool ok = used == text.size() && std::isfinite(v) && (v > 0 || (zero_allowed && v == 0));
        return ok ? std::string()
                  : std::string("must be a ") + (zero_allowed ? "number >= 0" : "positive number") + ", got " + text;
      },
      zero_allowed ? "NONNEGATIVE" : "POSITIVE");
}

constexpr int64_t kMaxImages = int64_t{1} << 31;

// The options a resumed run takes from its checkpoint instead (changing them would change the run).
struct Options {
  CLI::Option *epochs, *batch_size, *lr, *resize, *threads, *workers, *data;
};

// Fine-tuning an ONNX file: no book recipe, so these unless options say otherwise.
constexpr int64_t kOnnxBatchSize = 64;
constexpr double kOnnxLr = 0.01;

bool is_onnx(const std::string& path) { return std::filesystem::path(path).extension() == ".onnx"; }

train::TrainConfig new_run_config(const TrainArgs& a, const Options& o) {
  train::TrainConfig c;
  if (is_onnx(a.init)) {
    STRATA_CHECK(a.model.empty(), "train: the model comes from --init ", a.init, "; leave out MODEL ('", a.model,
                 "')");
    c.model = std::filesystem::path(a.init).stem().string();
    c.batch_size = kOnnxBatchSize;
    c.lr = kOnnxLr;
    c.num_classes = a.num_classes;
  } else {
    STRATA_CHECK(a.num_classes == 0, "train: --num-classes gives an ONNX model a new classifier (--init model.onnx); ",
                 a.model, " is built for its dataset's classes already");
    c = train::TrainConfig::for_model(a.model);
  }
  c.dataset = train::parse_dataset(a.dataset);
  c.data_dir = a.data;
  c.folder_channels = a.channels;
  c.limit_train = a.limit_train;
  c.limit_test = a.limit_test;
  c.val_split = a.val_split;
  if (o.epochs->count()) c.epochs = a.epochs;
  if (o.batch_size->count()) c.batch_size = a.batch_size;
  c.optimizer = train::parse_optimizer(a.optimizer);
  // The recipe's rate is for plain SGD; Adam and AdamW default to their usual 1e-3.
  if (o.lr->count())
    c.lr = a.lr;
  else if (c.optimizer != train::OptimizerKind::Sgd)
    c.lr = 1e-3;
  c.momentum = a.momentum;
  c.nesterov = a.nesterov;
  c.weight_decay = a.weight_decay;
  c.schedule = train::parse_schedule(a.schedule);
  c.warmup_epochs = a.warmup_epochs;
  c.step_epochs = a.step_epochs;
  c.step_gamma = a.gamma;
  c.label_smoothing = a.label_smoothing;
  c.clip_grad_norm = a.clip;
  if (o.resize->count()) c.resize = a.resize;
  c.augment = a.augment;
  c.crop_padding = a.crop_padding;
  c.train_transforms = a.train_transforms;
  c.eval_transforms = a.eval_transforms;
  c.workers = a.workers;
  c.normalize = a.normalize;
  c.shuffle = !a.no_shuffle;
  c.threads = a.threads;
  c.eager = a.eager;
  c.sync_bn = a.sync_bn;
  c.seed = a.seed;
  c.init = a.init;
  c.out_dir = a.out.empty() ? std::filesystem::path("runs") / c.model : std::filesystem::path(a.out);
  c.overwrite = a.overwrite;
  return c;
}

void print_start(const train::Trainer& t) {
  const train::TrainConfig& c = t.config();
  const Shape in = t.input_shape();
  std::printf(
      "training %s on %s: %lld training and %lld test images of %lldx%lldx%lld, %lld epoch%s, batch %lld, "
      "%s lr %g, %s schedule, %s kernels, %s, %d threads\n",
      c.model.c_str(), train::dataset_name(c.dataset), static_cast<long long>(t.train_size()),
      static_cast<long long>(t.test_size()), static_cast<long long>(in[0]), static_cast<long long>(in[1]),
      static_cast<long long>(in[2]), static_cast<long long>(c.epochs), c.epochs == 1 ? "" : "s",
      static_cast<long long>(c.batch_size), train::optimizer_name(c.optimizer), c.lr, train::schedule_name(c.schedule),
      backend_name(cpu_backend()), c.eager ? "eager" : "compiled", c.threads);
  if (const dist::Communicator& comm = dist::world(); comm.size() > 1)
    std::printf("data-parallel over %d ranks (%s): each takes its share of every batch of %lld%s\n", comm.size(),
                comm.name().c_str(), static_cast<long long>(c.batch_size),
                c.sync_bn ? ", batch norms synchronized over the ranks" : "");
  if (t.completed_epochs() > 0)
    std::printf("resuming after epoch %lld of %lld\n", static_cast<long long>(t.completed_epochs()),
                static_cast<long long>(c.epochs));
  std::fflush(stdout);
}

void print_epoch(const train::EpochMetrics& m, const train::TrainConfig& c, bool json) {
  if (json) {
    std::cout << nlohmann::json{{"epoch", m.epoch},
                                {"epochs", c.epochs},
                                {"loss", m.loss},
                                {"train_acc", m.train_acc},
                                {"test_acc", m.test_acc},
                                {"examples_per_sec", m.examples_per_sec},
                                {"data_wait_sec", m.data_wait_sec},
                                {"lr", m.lr},
                                {"seconds", m.seconds},
                                {"device", "cpu"},
                                {"threads", c.threads}}
                     .dump()
              << std::endl;
    return;
  }
  std::printf("epoch %lld/%lld: loss %.3f, train acc %.3f, test acc %.3f, %.1f examples/sec on cpu (%d thread%s)\n",
              static_cast<long long>(m.epoch), static_cast<long long>(c.epochs), m.loss, m.train_acc, m.test_acc,
              m.examples_per_sec, c.threads, c.threads == 1 ? "" : "s");
  std::fflush(stdout);
}

void print_end(const train::TrainResult& r, const train::RunFiles& f, bool json) {
  if (json) {
    nlohmann::json record{{"done", true},
                          {"test_acc", r.test_acc},
                          {"best_test_acc", r.best_test_acc},
                          {"best_epoch", r.best_epoch},
                          {"model", f.model.string()},
                          {"best", f.best.string()},
                          {"checkpoint", f.checkpoint.string()},
                          {"metrics", f.metrics.string()},
                          {"curves", f.curves.string()},
                          {"config", f.config.string()}};
    if (std::filesystem::exists(f.onnx)) record["onnx"] = f.onnx.string();
    std::cout << record.dump() << std::endl;
    return;
  }
  std::printf("test accuracy %.3f (best %.3f after epoch %lld)\n", r.test_acc, r.best_test_acc,
              static_cast<long long>(r.best_epoch));
  std::printf("weights: %s (best: %s)\n", f.model.c_str(), f.best.c_str());
  if (std::filesystem::exists(f.onnx)) std::printf("onnx:    %s\n", f.onnx.c_str());
  std::printf("metrics: %s\ncurves:  %s\n", f.metrics.c_str(), f.curves.c_str());
}

}  // namespace

void add_train_command(CLI::App& app) {
  auto a = std::make_shared<TrainArgs>();
  auto* cmd = app.add_subcommand(
      "train", "Train a zoo model (the book's recipe unless options say otherwise), or fine-tune an ONNX model");
  cmd->add_option("model", a->model, "Model name (see `strata models`); none with --resume or --init model.onnx");
  auto* data = cmd->add_option("--data", a->data,
                               "Dataset directory (default: the dataset's install location); for --dataset folder: "
                               "DIR/train/<class>/<image> and DIR/test/<class>/<image> (PNG, JPEG, BMP), or "
                               "DIR/<class>/<image> with --val-split");
  auto* dataset = cmd->add_option("--dataset", a->dataset, "Dataset")
                      ->check(CLI::IsMember({"fashion-mnist", "mnist", "cifar10", "folder"}));
  auto* channels = cmd->add_option("--channels", a->channels, "Channels of a folder dataset: 1 (grey) or 3 (RGB)")
                       ->check(CLI::IsMember({1, 3}));
  auto* epochs = cmd->add_option("--epochs", a->epochs, "Epochs (default: the recipe's)")->check(CLI::Range(1, 100000));
  auto* batch =
      cmd->add_option("--batch-size", a->batch_size, "Batch size (default: the recipe's)")->check(CLI::Range(1, 65536));
  auto* lr = cmd->add_option("--lr", a->lr, "Learning rate (default: the recipe's; 0.001 for adam/adamw)")
                 ->check(number_check(false));
  auto* optimizer =
      cmd->add_option("--optimizer", a->optimizer, "Optimizer")->check(CLI::IsMember({"sgd", "adam", "adamw"}));
  auto* momentum = cmd->add_option("--momentum", a->momentum, "SGD momentum")->check(CLI::Range(0.0, 0.999999));
  auto* nesterov = cmd->add_flag("--nesterov", a->nesterov, "Nesterov momentum (SGD)");
  auto* wd = cmd->add_option("--weight-decay", a->weight_decay, "Weight decay (decoupled for adamw)")
                 ->check(number_check(true));
  auto* schedule = cmd->add_option("--schedule", a->schedule, "Learning-rate schedule (per iteration)")
                       ->check(CLI::IsMember({"constant", "step", "cosine", "onecycle"}));
  auto* warmup = cmd->add_option("--warmup-epochs", a->warmup_epochs, "Linear warm-up epochs of the cosine schedule")
                     ->check(CLI::Range(0, 100000));
  auto* step = cmd->add_option("--step-epochs", a->step_epochs,
                               "Epochs between lr drops of the step schedule (default: a third)")
                   ->check(CLI::Range(0, 100000));
  auto* gamma = cmd->add_option("--gamma", a->gamma, "Factor of each lr drop of the step schedule")
                    ->check(CLI::Range(1e-12, 1.0));
  auto* resize = cmd->add_option("--resize", a->resize, "Resize images to N x N (default: the recipe's)")
                     ->check(CLI::Range(1, 2048));
  auto* augment = cmd->add_flag("--augment", a->augment, "Random crop (zero padding) and horizontal flip");
  auto* padding =
      cmd->add_option("--crop-padding", a->crop_padding, "Padding of the random crop")->check(CLI::Range(0, 256));
  auto* train_transforms =
      cmd->add_option("--train-transforms", a->train_transforms,
                      "torchvision-style transforms of each training image, before --augment/--resize/--normalize, "
                      "e.g. \"RandomResizedCrop(224) RandomHorizontalFlip() ColorJitter(0.4, 0.4, 0.4)\" (also "
                      "Resize, CenterCrop, RandomRotation)");
  auto* eval_transforms = cmd->add_option("--eval-transforms", a->eval_transforms,
                                          "The same for the test images (and eval and predict with the weights), "
                                          "e.g. \"Resize(256) CenterCrop(224)\"");
  auto* workers = cmd->add_option("--workers", a->workers,
                                  "Threads preparing batches (decoding a folder's images, augmenting) beside the "
                                  "model's threads")
                      ->check(CLI::Range(1, train::kMaxWorkers));
  auto* normalize =
      cmd->add_flag("--normalize", a->normalize, "Normalise each channel by the training set's mean and std");
  auto* smoothing =
      cmd->add_option("--label-smoothing", a->label_smoothing, "Label smoothing")->check(CLI::Range(0.0, 0.999999));
  auto* clip = cmd->add_option("--clip-grad-norm", a->clip, "Clip the gradients' global L2 norm (0: off)")
                   ->check(number_check(true));
  auto* threads = cmd->add_option("--threads", a->threads, "OpenMP threads (default: $STRATA_THREADS, else all cores)")
                      ->envname("STRATA_THREADS")
                      ->check(CLI::Range(1, kMaxThreads));
  auto* seed = cmd->add_option("--seed", a->seed, "Seed of the weights, data order, augmentation and dropout")
                   ->check(unsigned_64_check());
  auto* out = cmd->add_option("--out", a->out, "Output directory (default: runs/MODEL)");
  auto* init = cmd->add_option("--init", a->init,
                               "Start from these weights (.safetensors), or fine-tune an ONNX model (.onnx: its "
                               "architecture and weights; then no MODEL, and batch 64, lr 0.01 by default)")
                   ->check(CLI::ExistingFile);
  auto* num_classes =
      cmd->add_option("--num-classes", a->num_classes,
                      "With --init model.onnx: a new classifier of N classes in place of the file's last layer")
          ->check(CLI::Range(int64_t{1}, kMaxClasses));
  auto* resume = cmd->add_option("--resume", a->resume, "Continue the interrupted run in this directory");
  auto* overwrite = cmd->add_flag("--overwrite", a->overwrite, "Replace a run already in --out");
  auto* limit_train = cmd->add_option("--limit-train", a->limit_train, "Train on the first N images only")
                          ->check(CLI::Range(int64_t{0}, kMaxImages));
  auto* val_split =
      cmd->add_option("--val-split", a->val_split,
                      "Test on this fraction of the training images, drawn with --seed, instead of the test split")
          ->check(CLI::Range(0.0, 0.9));
  auto* limit_test = cmd->add_option("--limit-test", a->limit_test, "Test on the first N images only")
                         ->check(CLI::Range(int64_t{0}, kMaxImages));
  auto* no_shuffle = cmd->add_flag("--no-shuffle", a->no_shuffle, "Keep the dataset order");
  auto* eager = cmd->add_flag("--eager", a->eager,
                              "Run the model as written, layer by layer, instead of compiled (traced, fused)");
  auto* sync_bn = cmd->add_flag("--sync-bn", a->sync_bn,
                                "Under mpirun: batch norms train with the statistics of the whole batch over the "
                                "ranks, not each rank's shard");
  // Only what this build can run is offered.
  const bool cuda = backend_available(Backend::Cuda), dnnl = backend_available(Backend::Dnnl);
  cmd->add_option("--device", a->device, cuda ? "Device: cpu or cuda" : "Device: cpu (this build has no CUDA backend)")
      ->check(CLI::IsMember(cuda ? std::vector<std::string>{"cpu", "cuda"} : std::vector<std::string>{"cpu"}));
  cmd->add_option("--backend", a->backend,
                  dnnl ? "CPU kernels: ref (reference loops) or dnnl (oneDNN)"
                       : "CPU kernels: ref (reference loops; this build has no oneDNN)")
      ->check(CLI::IsMember(dnnl ? std::vector<std::string>{"ref", "dnnl"} : std::vector<std::string>{"ref"}));
  cmd->add_flag("--json", a->json, "Print one JSON record per epoch");
  for (CLI::Option* o : {dataset, channels, batch, lr,        optimizer,   momentum,   nesterov,  wd,        schedule,
                         warmup,  step,     gamma, resize,    augment,     padding,    normalize, smoothing, clip,
                         seed,    out,      init,  overwrite, limit_train, limit_test, val_split, no_shuffle, eager, num_classes,
                         train_transforms, eval_transforms, sync_bn})
    resume->excludes(o);
  const Options opts{epochs, batch, lr, resize, threads, workers, data};

  // Under mpirun or srun, one rank of a data-parallel job (job.hpp): rank 0 reports.
  cmd->callback(on_every_rank([a, opts](bool report) {
    if (a->model.empty() && a->resume.empty() && !is_onnx(a->init))
      throw CLI::RequiredError("MODEL (or --resume DIR, or --init model.onnx)");
    if (!a->backend.empty()) set_cpu_backend(a->backend == "ref" ? Backend::Ref : Backend::Dnnl);

    EpochProgress progress(report ? stderr : quiet_stream());
    progress.setup(a->resume.empty() ? "loading the data and building the model" : "resuming " + a->resume);
    train::Trainer trainer = [&] {
      try {
        if (a->resume.empty()) return train::Trainer(new_run_config(*a, opts));
        train::ResumeOptions r;
        if (opts.epochs->count()) r.epochs = a->epochs;
        if (opts.threads->count()) r.threads = a->threads;
        if (opts.workers->count()) r.workers = a->workers;
        if (opts.data->count()) r.data_dir = a->data;
        return train::Trainer::resume(a->resume, r);
      } catch (...) {
        progress.finish();  // the error message starts on a clean line
        throw;
      }
    }();
    progress.finish();
    STRATA_CHECK(a->model.empty() || a->model == trainer.config().model, "--resume ", a->resume, " is a run of ",
                 trainer.config().model, ", not ", a->model);
    for (const std::string& note : trainer.notes())
      if (report) std::fprintf(stderr, "strata: note: %s\n", note.c_str());
    if (!a->json) print_start(trainer);

    train::TrainResult result;
    try {
      result = trainer.run({.on_batch = [&](const train::BatchProgress& p) { progress.update(p); },
                            .on_eval_batch = [&](const train::EvalProgress& p) { progress.evaluating(p); },
                            .on_epoch =
                                [&](const train::EpochMetrics& m) {
                                  progress.finish();
                                  print_epoch(m, trainer.config(), a->json);
                                }});
    } catch (...) {
      progress.finish();  // the error message starts on a clean line
      throw;
    }
    print_end(result, trainer.files(), a->json);
  }));
}

}  // namespace strata::cli
