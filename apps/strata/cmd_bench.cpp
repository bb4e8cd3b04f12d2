// strata bench MODEL: images per second of training iterations (forward, loss, backward, SGD
// update) or inference, median over timed iterations after warm-up, with the spread and peak
// resident memory. Inputs and labels are random; the numbers measure compute only. Under mpirun,
// training is data-parallel: each rank a batch of --batch-size, the gradients all-reduced
// (dist::DataParallel); the images/s are global and the report adds the communication that
// backward did not hide.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <omp.h>

#include "commands.hpp"
#include "job.hpp"
#include "graph/program.hpp"
#include "strata/strata.hpp"

namespace strata::cli {
namespace {

// How OpenMP's idle threads wait, as the environment set it ("GOMP_SPINCOUNT=1000", or
// "OMP_WAIT_POLICY=passive", or "default").
std::string openmp_wait() {
  for (const char* name : {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"})
    if (const char* value = std::getenv(name)) return std::string(name) + "=" + value;
  return "default";
}

struct BenchArgs {
  std::string model;
  std::string mode = "train";
  int64_t batch_size = 0;
  std::string input, weights;
  int iters = 10;
  int warmup = 3;
  int threads = 0;
  double bucket_mb = 25;  // DataParallel's gradient bytes per all-reduce, in MiB
  std::string backend;
  bool json = false, eager = false, profile = false, no_overlap = false;
};

// The compiled graph's nodes by time per iteration, the most first.
void print_profile(int iterations) {
  const std::vector<graph::Program::ProfileRow> rows = graph::Program::profile();
  double total = 0;
  for (const auto& r : rows) total += r.seconds;
  std::printf("\n%10s %6s  %-36s %s\n", "ms/iter", "share", "op", "layer");
  for (const auto& r : rows)
    std::printf("%10.3f %5.1f%%  %-36s %s\n", 1e3 * r.seconds / iterations, 100.0 * r.seconds / total, r.op.c_str(),
                r.scope.empty() ? "<root>" : r.scope.c_str());
  std::printf("%10.3f          in %zu nodes\n", 1e3 * total / iterations, rows.size());
}

// The process's own peak resident memory: VmHWM of /proc/self/status, which starts afresh at exec
// (getrusage's maxrss keeps the high-water mark of the process that forked this one, a fat
// Python benchmark driver for instance); getrusage where there is no /proc.
double peak_rss_mb() {
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);)
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;  // "VmHWM:   1234 kB"
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

void run_bench(const BenchArgs& a) {
  const ModelSource info = find_model(a.model);
  STRATA_CHECK(a.mode == "train" || a.mode == "infer", "--mode: expected train or infer, got '", a.mode, "'");
  if (a.threads > 0) omp_set_num_threads(a.threads);
  if (!a.backend.empty()) {
    STRATA_CHECK(a.backend == "ref" || a.backend == "dnnl", "--backend: expected ref or dnnl, got '", a.backend, "'");
    set_cpu_backend(a.backend == "ref" ? Backend::Ref : Backend::Dnnl);
  }
  Shape sample = info.input;  // {1, C, H, W}
  if (!a.input.empty()) {
    const Shape chw = parse_shape(a.input, "--input");
    STRATA_CHECK(chw.ndim() == sample.ndim() - 1, "--input: ", info.name, " takes ", sample.ndim() - 1,
                 " values (C,H,W or C,D,H,W), got ", chw);
    for (int i = 0; i < chw.ndim(); ++i) sample[i + 1] = chw[i];
  }
  const int64_t batch = a.batch_size > 0 ? a.batch_size : info.batch_size;
  Shape input = sample;
  input[0] = batch;
  check_input_size(input, "--batch-size and --input");
  STRATA_CHECK(a.iters > 0 && a.warmup >= 0, "--iters must be positive and --warmup non-negative");

  STRATA_CHECK(!info.from_file || a.weights.empty(), "--weights: ", a.model, " carries its own weights");
  auto model = info.build(input[1], 10);
  if (!a.weights.empty()) nn::load_weights(*model, a.weights);
  else if (!info.from_file) models::init_book(*model);
  if (!a.eager) model->hybridize();
  // Arithmetic rate: 2 flops per multiply-accumulate of the forward pass; a training step counts
  // three times the forward's (forward, backward to the data, backward to the weights).
  const double forward_macs = static_cast<double>(nn::summarize(*model, sample).macs);
  Generator gen(1);
  const Tensor x = uniform(input, 0.0, 1.0, gen);
  std::vector<int64_t> label_values(static_cast<std::size_t>(batch));
  for (auto& l : label_values) l = static_cast<int64_t>(gen.below(10));
  const Tensor labels = from_data(std::span<const int64_t>(label_values));
  const bool train = a.mode == "train";
  model->train(train);
  optim::SGD sgd(model->parameters(), 1e-4);
  dist::Communicator& comm = dist::world();
  STRATA_CHECK(train || comm.size() == 1, "bench --mode infer runs in one process; under mpirun, bench --mode train");
  std::unique_ptr<dist::DataParallel> dp;
  if (comm.size() > 1)
    dp = std::make_unique<dist::DataParallel>(
        *model, comm,
        dist::DataParallelOptions{.bucket_bytes = static_cast<std::size_t>(a.bucket_mb * (1 << 20)),
                                  .overlap = !a.no_overlap});

  auto step = [&] {
    if (train) {
      sgd.zero_grad();
      Tensor loss = cross_entropy((*model)(x), labels);
      loss.backward();
      if (dp) dp->finish_gradients();
      sgd.step();
    } else {
      NoGradGuard no_grad;
      (*model)(x);
    }
  };
  for (int i = 0; i < a.warmup; ++i) step();
  graph::Program::set_profiling(a.profile);
  std::vector<double> rates;
  double step_seconds = 0, wait_seconds = 0;  // over the timed steps; wait: communication not hidden
  for (int i = 0; i < a.iters; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    step();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rates.push_back(static_cast<double>(batch * comm.size()) / s);
    step_seconds += s;
    if (dp) wait_seconds += dp->last_wait_seconds();
  }
  graph::Program::set_profiling(false);
  std::sort(rates.begin(), rates.end());
  const double median = rates[rates.size() / 2];
  const double lo = rates.front(), hi = rates.back();
  const int threads = omp_get_max_threads();
  const double gflops = median * 2.0 * forward_macs * (train ? 3.0 : 1.0) * 1e-9;
  if (a.json) {
    std::cout << nlohmann::json{{"model", info.name}, {"mode", a.mode}, {"batch_size", batch},
                                {"input", std::vector<int64_t>(input.begin(), input.end())},
                                {"images_per_sec", median}, {"min", lo}, {"max", hi}, {"iters", a.iters},
                                {"gflops", gflops},
                                {"threads", threads}, {"backend", backend_name(cpu_backend())},
                                {"compiled", !a.eager},
                                {"openmp_wait", openmp_wait()},
                                {"ranks", comm.size()},
                                {"comm_wait_ms", 1e3 * wait_seconds / a.iters},
                                {"comm_wait_share", wait_seconds / step_seconds},
                                {"buckets", dp ? dp->num_buckets() : 0},
                                {"peak_rss_mb", peak_rss_mb()}}
                     .dump()
              << "\n";
  } else {
    std::printf("%s %s batch %lld input %s: %.1f images/s (median of %d; min %.1f, max %.1f), %.1f GFLOP/s, "
                "%d threads, backend %s, %s, peak RSS %.0f MB\n",
                info.name.c_str(), a.mode.c_str(), static_cast<long long>(batch), input.str().c_str(), median,
                a.iters, lo, hi, gflops, threads, backend_name(cpu_backend()), a.eager ? "eager" : "compiled",
                peak_rss_mb());
    if (dp)
      std::printf("data-parallel over %d ranks (%s), batch %lld each, gradients in %zu buckets%s: communication not "
                  "hidden by backward %.1f ms per step (%.1f%% of the step)\n",
                  comm.size(), comm.name().c_str(), static_cast<long long>(batch), dp->num_buckets(),
                  a.no_overlap ? " started after backward" : "", 1e3 * wait_seconds / a.iters,
                  100.0 * wait_seconds / step_seconds);
    if (a.profile) print_profile(a.iters);
  }
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Measure training or inference throughput of a zoo model or an ONNX file");
  cmd->add_option("model", args->model, "Model name (see `strata models`) or ONNX file (model.onnx)")->required();
  cmd->add_option("--mode", args->mode, "train (forward, loss, backward, SGD update) or infer")
      ->check(CLI::IsMember({"train", "infer"}));
  cmd->add_option("--batch-size", args->batch_size, "Batch size, of each rank under mpirun (default: the model's recipe)")->check(CLI::PositiveNumber);
  cmd->add_option("--input", args->input, "One sample's shape C,H,W (default: the model's training input)");
  cmd->add_option("--weights", args->weights, "Weights to load (.safetensors; default: the book's initialisation)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--iters", args->iters, "Timed iterations")->check(CLI::PositiveNumber);
  cmd->add_option("--warmup", args->warmup, "Untimed iterations first")->check(CLI::NonNegativeNumber);
  cmd->add_option("--threads", args->threads, "Threads (default: OMP_NUM_THREADS or all cores)")
      ->check(CLI::Range(1, kMaxThreads));
  cmd->add_option("--backend", args->backend, "ref or dnnl (default: dnnl when built in)")
      ->check(CLI::IsMember({"ref", "dnnl"}));
  cmd->add_flag("--json", args->json, "Print one JSON object");
  cmd->add_flag("--eager", args->eager, "Run the model as written, layer by layer, instead of compiled (traced, fused)");
  cmd->add_flag("--profile", args->profile, "Also print the time of each node of the compiled graph");
  cmd->add_flag("--no-overlap", args->no_overlap,
                "Under mpirun: start the gradient all-reduces after backward instead of during it");
  cmd->add_option("--bucket-mb", args->bucket_mb, "Under mpirun: MiB of gradients per all-reduce (default 25)")
      ->check(CLI::Range(0.01, 4096.0));
  // Under mpirun or srun, one rank of a data-parallel job (job.hpp): rank 0 reports.
  cmd->callback(on_every_rank([args](bool) { run_bench(*args); }));
}

}  // namespace strata::cli
