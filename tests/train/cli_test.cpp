// strata train | eval | predict, run as a user runs them: output formats, files, exit codes.
#include <stb_image_write.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "train_util.hpp"

using namespace strata;
using strata::test::fashion;
using strata::test::run_strata;
using strata::test::TempDir;

namespace {

std::string q(const std::filesystem::path& p) { return detail::cat("'", p.string(), "'"); }

void expect_output(const test::CommandResult& r, int exit_code, const std::string& fragment) {
  EXPECT_EQ(r.exit_code, exit_code) << r.output;
  EXPECT_NE(r.output.find(fragment), std::string::npos) << "output:\n" << r.output << "\nexpected: " << fragment;
}

}  // namespace

TEST(Cli, TrainResumeEvalPredict) {
  TempDir dir;
  const auto run = dir / "run";
  // Train: the book's epoch line, then where the results are.
  test::CommandResult r = run_strata(
      "train lenet-bn --epochs 2 --limit-train 512 --limit-test 256 --batch-size 64 "
      "--threads 1 --out " +
      q(run));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const std::regex epoch_line(
      R"((^|\n)epoch 2/2: loss \d+\.\d{3}, train acc 0\.\d{3}, test acc 0\.\d{3}, \d+\.\d examples/sec on cpu \(1 thread\)\n)");
  EXPECT_TRUE(std::regex_search(r.output, epoch_line)) << r.output;
  EXPECT_NE(r.output.find("epoch 1/2: loss "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("test accuracy 0."), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("weights: " + (run / "model.safetensors").string()), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("curves:  " + (run / "curves.svg").string()), std::string::npos) << r.output;
  for (const char* f :
       {"model.safetensors", "best.safetensors", "checkpoint.safetensors", "metrics.csv", "curves.svg", "config.json"})
    EXPECT_TRUE(std::filesystem::exists(run / f)) << f;

  // Resume with one more epoch.
  r = run_strata("train --resume " + q(run) + " --epochs 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("resuming after epoch 2 of 3"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("epoch 3/3: loss "), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("epoch 1/3"), std::string::npos) << r.output;

  // Eval: accuracy, per-class table with names, confusion matrix.
  r = run_strata("eval " + q(run / "model.safetensors") + " --limit 200");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  for (const char* s : {"test accuracy 0.", "of 200 fashion-mnist test images", "Ankle boot", "T-shirt/top",
                        "confusion matrix (rows: true class #, columns: predicted class #)"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;
  r = run_strata("eval " + q(run / "model.safetensors") + " --limit 200 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;  // one record, one line
  const auto ev = nlohmann::json::parse(r.output);
  EXPECT_EQ(ev["images"], 200);
  int64_t sum = 0, trace = 0;
  for (std::size_t t = 0; t < 10; ++t)
    for (std::size_t p = 0; p < 10; ++p) {
      sum += ev["confusion"][t][p].get<int64_t>();
      if (t == p) trace += ev["confusion"][t][p].get<int64_t>();
    }
  EXPECT_EQ(sum, 200);
  EXPECT_EQ(ev["correct"], trace);
  EXPECT_DOUBLE_EQ(ev["accuracy"].get<double>(), trace / 200.0);
  EXPECT_GT(ev["accuracy"].get<double>(), 0.3);
  EXPECT_EQ(ev["classes"][9]["name"], "Ankle boot");

  // Predict on a PNG and a .npy batch; the logits go to a .npy file.
  const std::vector<uint8_t> img = fashion().test->get(0).image.pixels;  // an ankle boot
  ASSERT_TRUE(stbi_write_png((dir / "boot.png").c_str(), 28, 28, 1, img.data(), 28));
  io::save_npy(dir / "batch.npy", test::random({2, 1, 28, 28}, 5, DType::F32, 0.0, 1.0));
  r = run_strata("predict " + q(run / "model.safetensors") + " " + q(dir / "boot.png") + " " + q(dir / "batch.npy") +
                 " --top-k 3 --output " + q(dir / "logits.npy"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find((dir / "boot.png").string() + ": "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find((dir / "batch.npy").string() + "[1]: "), std::string::npos) << r.output;
  const Tensor logits = io::load_npy(dir / "logits.npy");
  EXPECT_EQ(logits.shape(), Shape({3, 10}));
  // --classes FILE names the classes (one per line), and must name as many as the model has.
  {
    std::ofstream names(dir / "names.txt");
    for (int k = 0; k < 10; ++k) names << "class-" << k << "\n";
  }
  r = run_strata("predict " + q(run / "model.safetensors") + " " + q(dir / "boot.png") + " --top-k 1 --classes " +
                 q(dir / "names.txt"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("class-"), std::string::npos) << r.output;
  {
    std::ofstream names(dir / "names.txt");
    names << "one\ntwo\n";
  }
  expect_output(run_strata("predict " + q(run / "model.safetensors") + " " + q(dir / "boot.png") + " --classes " +
                           q(dir / "names.txt")),
                1, "names.txt names 2 classes but the model has 10 outputs");
  r = run_strata("predict " + q(run / "model.safetensors") + " " + q(dir / "boot.png") + " --json --top-k 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  // One JSON record per input, one per line (as every --json output).
  ASSERT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  const auto pred = nlohmann::json::parse(r.output);
  EXPECT_EQ(pred["input"].get<std::string>(), (dir / "boot.png").string());
  ASSERT_EQ(pred["top"].size(), 2u);
  EXPECT_GE(pred["top"][0]["probability"].get<double>(), pred["top"][1]["probability"].get<double>());
  EXPECT_EQ(pred["top"][0]["index"].get<int64_t>(), logits.slice(0, 0, 1).argmax(1).to_vector<int64_t>()[0]);
}

TEST(Cli, TrainJsonRecordsAndThreadsFromTheEnvironment) {
  TempDir dir;
  const test::CommandResult r = test::run_strata_env("STRATA_THREADS=1",
                                                     "train lenet-bn --epochs 1 --limit-train 128 --limit-test 64 "
                                                     "--batch-size 64 --backend ref --json --out " +
                                                         q(dir / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<nlohmann::json> records;
  std::stringstream in(r.output);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with("{")) records.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(records.size(), 2u) << r.output;
  EXPECT_EQ(records[0]["epoch"], 1);
  EXPECT_EQ(records[0]["threads"], 1);
  EXPECT_EQ(records[0]["device"], "cpu");
  for (const char* k : {"loss", "train_acc", "test_acc", "examples_per_sec", "data_wait_sec", "lr", "seconds"})
    EXPECT_TRUE(records[0][k].is_number()) << k;
  EXPECT_EQ(records[1]["done"], true);
  EXPECT_EQ(records[1]["model"], (dir / "run" / "model.safetensors").string());
}

TEST(Cli, UsageErrorsExitWithCode2) {
  for (const char* args : {"train lenet --lr -1", "train lenet --optimizer rmsprop", "train lenet --epochs 0",
                           "train lenet --batch-size x", "train lenet --schedule linear", "train",
                           "train --resume somewhere --lr 0.1", "train lenet --threads 0", "predict w.safetensors",
                           "predict w.safetensors x.png --top-k 0", "eval", "train lenet --device tpu"}) {
    const test::CommandResult r = run_strata(args);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.output;
  }
  expect_output(run_strata("train --resume somewhere --lr 0.1"), 2, "--lr excludes --resume");
  expect_output(run_strata("train lenet --lr -1"), 2, "--lr: must be a positive number, got -1");
}

// STRATA_CPU_ISA (which vector width the few-channel convolutions use) takes avx2 or avx512.
TEST(Cli, UnknownCpuIsaIsAClearError) {
  if (!backend_available(Backend::Dnnl)) GTEST_SKIP() << "built without oneDNN";
  const std::string bench = "bench lenet --batch-size 4 --iters 1 --warmup 0";
  expect_output(test::run_strata_env("STRATA_CPU_ISA=avx9", bench), 1,
                "STRATA_CPU_ISA must be avx2 or avx512, got 'avx9'");
  EXPECT_EQ(test::run_strata_env("STRATA_CPU_ISA=avx2", bench).exit_code, 0);
}

TEST(Cli, BadInputIsAClearErrorNeverACrash) {
  TempDir dir;
  expect_output(run_strata("train lenet --data " + q(dir / "none") + " --out " + q(dir / "run")), 1,
                "install the Debian package dataset-fashion-mnist (make deps) or pass --data DIR");
  expect_output(run_strata("train lenet6"), 1, "strata: error: unknown model 'lenet6'; the zoo has: lenet, lenet-bn,");
  // Only what the build runs is offered (issue 21: --device cuda was advertised, then refused).
  if (!backend_available(Backend::Cuda)) expect_output(run_strata("train lenet --device cuda"), 2, "--device: cuda not in {cpu}");
  expect_output(run_strata("train --resume " + q(dir / "none")), 1, "not found; --resume takes the output directory");

  auto lenet = models::build("lenet");
  nn::save_weights(*lenet, dir / "lenet.safetensors");  // no metadata, as from PyTorch
  expect_output(run_strata("eval " + q(dir / "lenet.safetensors")), 1, "name its architecture with --model NAME");
  expect_output(run_strata("eval " + q(dir / "lenet.safetensors") + " --model lenet-bn"), 1,
                "the weights do not fit this Sequential:\n  missing keys (");
  expect_output(run_strata("predict " + q(dir / "lenet.safetensors") + " --model lenet " + q(dir / "nope.png")), 1,
                "'" + (dir / "nope.png").string() + "': no such image file");
  test::write_file(dir / "fake.jpg", {1, 2, 3, 4});
  expect_output(run_strata("predict " + q(dir / "lenet.safetensors") + " --model lenet " + q(dir / "fake.jpg")), 1,
                "'" + (dir / "fake.jpg").string() + "': not a PNG, JPEG or BMP file");
  expect_output(run_strata("predict " + q(dir / "missing.safetensors") + " " + q(dir / "fake.jpg")), 1,
                "missing.safetensors");
}

// Thread counts past what the machine can create are refused before OpenMP starts (it aborted):
// from a flag and from OMP_NUM_THREADS (issue 22, defect 4).
TEST(Cli, ThreadCountsAreCapped) {
  expect_output(run_strata("bench lenet --threads 100000 --iters 1"), 2, "--threads: Value 100000 not in range 1 to 1024");
  for (const char* value : {"100000", "4,100000", "many", "0"})
    expect_output(test::run_strata_env(std::string("OMP_NUM_THREADS=") + value, "bench lenet --iters 1"), 1,
                  std::string("strata: error: OMP_NUM_THREADS=") + value +
                      ": each entry must be a thread count from 1 to 1024");
  expect_output(test::run_strata_env("OMP_NUM_THREADS=1", "bench lenet --iters 1 --warmup 0"), 0, "1 threads");
}

// On a terminal (a pseudo-terminal from script(1), 50 columns), the progress line shows set-up,
// batches with the epoch's and the run's ETA, and evaluation, never wider than the terminal (issue
// 21: it wrapped at 80 columns and showed nothing before the first batch or during evaluation).
TEST(Cli, ProgressFitsTheTerminal) {
  TempDir dir;
  test::write_tiny_fashion_mnist(dir / "data", 1024, 512);
  const std::string train = "'" + std::string(STRATA_CLI) + "' train lenet --data " + q(dir / "data") +
                            " --epochs 2 --batch-size 16 --threads 1 --out " + q(dir / "run");
  const test::CommandResult r = test::run_command("COLUMNS=50 script -qec \"" + train + "\" /dev/null");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::vector<std::string> drawn;  // what each \r redraw left on the line, its erase code removed
  std::size_t at = 0;
  while ((at = r.output.find('\r', at)) != std::string::npos) {
    const std::size_t end = r.output.find_first_of("\r\n", at + 1);
    std::string line = r.output.substr(at + 1, end == std::string::npos ? std::string::npos : end - at - 1);
    if (const std::size_t erase = line.find("\033[K"); erase != std::string::npos) line.erase(erase);
    if (!line.empty()) drawn.push_back(line);
    at += 1;
  }
  auto shown = [&](const std::string& fragment) {
    return std::any_of(drawn.begin(), drawn.end(), [&](const std::string& l) { return l.find(fragment) != l.npos; });
  };
  EXPECT_TRUE(shown("loading the data and building the model")) << r.output;
  EXPECT_TRUE(shown("epoch 1/2  64/64")) << r.output;
  EXPECT_TRUE(shown(", run 0:")) << r.output;
  EXPECT_TRUE(shown("epoch 2: evaluating")) << r.output;
  for (const std::string& line : drawn) EXPECT_LE(line.size(), 49u) << line;
}

// The tool sets OpenMP's spin count to 1000 unless the user chose a wait policy (issue 21: with
// the default, lenet trained 25 times slower while another process took a core).
TEST(Cli, OpenMpWaitsBrieflyUnlessTheUserChose) {
  const std::string bench = "bench lenet --batch-size 4 --iters 1 --warmup 0 --json";
  auto wait_of = [&](const std::string& env) {
    const test::CommandResult r = test::run_strata_env(env, bench);
    EXPECT_EQ(r.exit_code, 0) << r.output;
    return r.exit_code == 0 ? nlohmann::json::parse(r.output)["openmp_wait"].get<std::string>() : std::string();
  };
  EXPECT_EQ(wait_of("env -u GOMP_SPINCOUNT -u OMP_WAIT_POLICY"), "GOMP_SPINCOUNT=1000");
  EXPECT_EQ(wait_of("env -u OMP_WAIT_POLICY GOMP_SPINCOUNT=300000"), "GOMP_SPINCOUNT=300000");
  EXPECT_EQ(wait_of("env -u GOMP_SPINCOUNT OMP_WAIT_POLICY=active"), "OMP_WAIT_POLICY=active");
}

// A folder of class sub-folders without a train/test split trains with --val-split (a seeded
// tenth of its images as the test set); a test split that lacks a class names it (issue 21).
TEST(Cli, FolderWithoutASplitAndClassesThatDiffer) {
  TempDir dir;
  const std::vector<uint8_t> pixels(8 * 8, 128);
  for (const char* cls : {"cat", "dog", "owl"})
    for (int i = 0; i < 10; ++i) {
      const std::filesystem::path file = dir / "flat" / cls / ("img" + std::to_string(i) + ".png");
      std::filesystem::create_directories(file.parent_path());
      ASSERT_TRUE(stbi_write_png(file.c_str(), 8, 8, 1, pixels.data(), 8));
    }
  const std::string common = " --channels 1 --resize 28 --epochs 1 --batch-size 8 --threads 1 --out ";
  test::CommandResult r = run_strata("train lenet --dataset folder --data " + q(dir / "flat") + " --val-split 0.2" +
                                     common + q(dir / "run"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("24 training and 6 test images"), std::string::npos) << r.output;

  std::filesystem::create_directories(dir / "split");
  std::filesystem::copy(dir / "flat", dir / "split" / "train", std::filesystem::copy_options::recursive);
  std::filesystem::copy(dir / "flat", dir / "split" / "test", std::filesystem::copy_options::recursive);
  std::filesystem::remove_all(dir / "split" / "test" / "owl");
  expect_output(run_strata("train lenet --dataset folder --data " + q(dir / "split") + common + q(dir / "run2")), 1,
                "the train split has 3 classes and the test split 2; the test split lacks 'owl'");
}

// A folder of images of several sizes streams through --workers with torchvision-style transforms
// (issue 21): the weights record the evaluation transforms, so eval reproduces the run's test
// accuracy and predict takes the images as the run's test images; a bad spec is a clear error.
TEST(Cli, FolderTransformsAndWorkers) {
  TempDir dir;
  for (const char* split : {"train", "test"})
    for (int cls = 0; cls < 2; ++cls)
      for (int i = 0; i < 12; ++i) {
        const int w = 30 + 3 * i, h = 26 + 2 * (i % 4);  // sizes vary
        std::vector<uint8_t> pixels(static_cast<std::size_t>(w * h));
        for (std::size_t k = 0; k < pixels.size(); ++k)
          pixels[k] = static_cast<uint8_t>((cls == 0 ? 200 : 20) + (k * 7 + static_cast<std::size_t>(i)) % 40);
        const std::filesystem::path file = dir / "data" / split / (cls == 0 ? "light" : "dark") /
                                           ("img" + std::to_string(i) + ".png");
        std::filesystem::create_directories(file.parent_path());
        ASSERT_TRUE(stbi_write_png(file.c_str(), w, h, 1, pixels.data(), w));
      }
  const std::string common = " --dataset folder --data " + q(dir / "data") +
                             " --channels 1 --epochs 2 --batch-size 8 --threads 1 --workers 3 --json --out ";
  test::CommandResult r = run_strata(
      "train lenet" + common + q(dir / "run") +
      " --train-transforms 'RandomResizedCrop(28, scale=(0.5, 1)) RandomRotation(10) ColorJitter(0.2, 0.2)'"
      " --eval-transforms 'Resize(32) CenterCrop(28)'");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const nlohmann::json last = nlohmann::json::parse(r.output.substr(r.output.rfind('{')));
  const nlohmann::json config = nlohmann::json::parse(test::read_text(dir / "run" / "config.json"));
  EXPECT_EQ(config["eval_transforms"], "Resize(32) CenterCrop(28)");
  EXPECT_EQ(config["workers"], 3);
  EXPECT_EQ(io::read_safetensors_metadata(dir / "run" / "model.safetensors").at("strata.eval_transforms"),
            "Resize(32) CenterCrop(28)");

  r = run_strata("eval " + q(dir / "run" / "model.safetensors") + " --dataset folder --data " + q(dir / "data") +
                 " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const int64_t correct = nlohmann::json::parse(r.output)["correct"];
  EXPECT_DOUBLE_EQ(static_cast<double>(correct) / 24.0, last["test_acc"].get<double>()) << last;

  // predict: the same transforms, so the same logits as the batch eval ran.
  r = run_strata("predict " + q(dir / "run" / "model.safetensors") + " " +
                 q(dir / "data" / "test" / "light" / "img5.png") + " --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  // Resume takes another --workers; the transforms come from the checkpoint.
  r = run_strata("train --resume " + q(dir / "run") + " --epochs 3 --workers 1 --json");
  ASSERT_EQ(r.exit_code, 0) << r.output;

  expect_output(run_strata("train lenet" + common + q(dir / "bad") + " --train-transforms 'RandomCrop(28)'"), 1,
                "train_transforms");
  expect_output(run_strata("train lenet" + common + q(dir / "bad") + " --workers 0"), 2, "--workers");
}

// --json prints one record per line in every subcommand (a stream a program reads line by line).
TEST(Cli, JsonIsOneRecordPerLine) {
  const test::CommandResult models_json = run_strata("models --json");
  ASSERT_EQ(models_json.exit_code, 0) << models_json.output;
  std::istringstream lines(models_json.output);
  std::vector<std::string> names;
  for (std::string line; std::getline(lines, line);) names.push_back(nlohmann::json::parse(line)["name"]);
  std::vector<std::string> zoo;
  for (const models::ModelInfo& m : models::zoo()) zoo.push_back(m.name);
  EXPECT_EQ(names, zoo);
  const test::CommandResult summary = run_strata("summary lenet --json");
  ASSERT_EQ(summary.exit_code, 0) << summary.output;
  EXPECT_EQ(std::count(summary.output.begin(), summary.output.end(), '\n'), 1) << summary.output;
  EXPECT_EQ(nlohmann::json::parse(summary.output)["params"].get<int64_t>(), 61706);
}

// Issue 22, defects 6, 7 and 12: weights declaring an input their model cannot take fail before
// any data of that size is loaded (1x2048x2048 took 3.2 GB, then asked for 20 GB); --output onto a
// symbolic link or device is refused (it was replaced by a regular file); a seed out of range is a
// usage error (-1 and 2^64 became 2^64-1); a failed write to stdout is an error (it exited 0).
TEST(Cli, MisdeclaredInputsOutputsAndSeedsAreErrors) {
  TempDir dir;
  auto lenet = models::build("lenet");
  nn::save_weights(*lenet, dir / "big.safetensors", {{"strata.model", "lenet"}, {"strata.input", "1,2048,2048"}});
  expect_output(run_strata("eval " + q(dir / "big.safetensors") + " --limit 10"), 1,
                "lenet cannot take 1x2048x2048 images: it stops at layer 7 (Linear)");
  nn::save_weights(*lenet, dir / "lenet.safetensors", {{"strata.model", "lenet"}});

  std::filesystem::create_symlink(dir / "elsewhere.onnx", dir / "link.onnx");
  expect_output(run_strata("export " + q(dir / "lenet.safetensors") + " -o " + q(dir / "link.onnx")), 1,
                "exists and is a symbolic link; Strata writes only a new file or over a regular file");
  EXPECT_TRUE(std::filesystem::is_symlink(dir / "link.onnx"));
  expect_output(run_strata("export " + q(dir / "lenet.safetensors") + " -o /dev/null"), 1, "exists and is a device");

  for (const char* seed : {"-1", "18446744073709551616", "1e3"})
    expect_output(run_strata(std::string("train lenet --epochs 1 --seed ") + seed), 2,
                  std::string("--seed: expected a whole number from 0 to 18446744073709551615, got '") + seed + "'");

  EXPECT_EQ(run_strata("summary lenet").exit_code, 0);
  EXPECT_EQ(run_strata("summary lenet >/dev/full").exit_code, 1);  // the message goes to /dev/full too
}

// strata train --init model.onnx: fine-tunes the file's model with a new classifier, writes
// model.onnx (which eval reads back to the same accuracy), resumes to the same weights as a run
// without a break; misuse is a clear error.
TEST(Cli, TrainFineTunesAnOnnxFile) {
  TempDir dir;
  const std::string file = std::string(STRATA_TEST_FIXTURES_DIR) + "/onnx/mixed_opset13.onnx";
  const std::string common = " --limit-train 256 --limit-test 128 --threads 1 --lr 0.05 --num-classes 10";
  test::CommandResult r =
      run_strata("train --init " + q(file) + common + " --epochs 2 --json --out " + q(dir / "straight"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto done = nlohmann::json::parse(r.output.substr(r.output.rfind("\n{") + 1));  // the last record
  EXPECT_EQ(done["onnx"], (dir / "straight" / "model.onnx").string());
  const test::CommandResult eval = run_strata("eval " + q(dir / "straight" / "model.onnx") + " --limit 128 --json");
  ASSERT_EQ(eval.exit_code, 0) << eval.output;
  EXPECT_NEAR(nlohmann::json::parse(eval.output)["accuracy"].get<double>(), done["test_acc"].get<double>(), 1e-9);

  ASSERT_EQ(run_strata("train --init " + q(file) + common + " --epochs 1 --out " + q(dir / "split")).exit_code, 0);
  r = run_strata("train --resume " + q(dir / "split") + " --epochs 2");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(test::read_text(dir / "split" / "model.safetensors"), test::read_text(dir / "straight" / "model.safetensors"));

  expect_output(run_strata("train lenet --init " + q(file) + " --out " + q(dir / "x")), 1,
                "the model comes from --init");
  expect_output(run_strata("train lenet --num-classes 4 --out " + q(dir / "x")), 1,
                "--num-classes gives an ONNX model a new classifier");
  expect_output(run_strata("train --init " + q(file) + " --num-classes 4 --limit-train 64 --out " + q(dir / "x")), 1,
                "gives outputs of shape [1,4] for one image, but the dataset has 10 classes");
}

// strata export: weights with Strata's metadata or a zoo name, fixed or dynamic batch; the file's
// metadata carries the weights file's; bad requests exit non-zero and write nothing.
TEST(Cli, ExportWritesAnOnnxFileOrNothing) {
  TempDir dir;
  auto net = models::build("lenet-bn");
  nn::save_weights(*net, dir / "w.safetensors", {{"strata.model", "lenet-bn"}});
  nn::save_weights(*net, dir / "torch.safetensors");  // no metadata, as from PyTorch
  expect_output(run_strata("export " + q(dir / "w.safetensors") + " -o " + q(dir / "a.onnx")), 0,
                "wrote " + (dir / "a.onnx").string() + ": lenet-bn for inputs of [1,1,28,28], opset 17");
  expect_output(run_strata("export " + q(dir / "torch.safetensors") + " --model lenet-bn -o " + q(dir / "b.onnx") +
                           " --batch dynamic --opset 13 --fold-batch-norm"),
                0, "lenet-bn for inputs of [1,1,28,28] (any batch), opset 13");
  const std::string a = test::read_text(dir / "a.onnx");
  EXPECT_NE(a.find("strata.model"), std::string::npos);
  EXPECT_NE(a.find("1.running_mean"), std::string::npos);  // state_dict names
  EXPECT_NE(test::read_text(dir / "b.onnx").find("batch"), std::string::npos);

  // The files run in eval, predict, summary and bench as the weights do (import: onnx::load).
  const std::string eval_weights = run_strata("eval " + q(dir / "w.safetensors") + " --limit 64 --json").output;
  const test::CommandResult eval_onnx = run_strata("eval " + q(dir / "a.onnx") + " --limit 64 --json");
  EXPECT_EQ(eval_onnx.exit_code, 0) << eval_onnx.output;
  EXPECT_EQ(nlohmann::json::parse(eval_onnx.output)["correct"], nlohmann::json::parse(eval_weights)["correct"]);
  expect_output(run_strata("summary " + q(dir / "b.onnx")), 0, "input [1,1,28,28] -> output [1,10]");
  expect_output(run_strata("summary " + q(dir / "b.onnx")), 0, "multiply-accumulates: 281,640 per forward pass");
  expect_output(run_strata("bench " + q(dir / "b.onnx") + " --mode infer --batch-size 3 --iters 1 --warmup 0"), 0,
                "infer batch 3 input [3,1,28,28]");

  expect_output(run_strata("export " + q(dir / "w.safetensors") + " -o " + q(dir / "c.onnx") + " --batch 0"), 1,
                "--batch: expected at most");
  expect_output(run_strata("export " + q(dir / "w.safetensors") + " -o " + q(dir / "c.onnx") + " --batch 2,2"), 1,
                "--batch: expected one positive integer or 'dynamic', got '2,2'");
  EXPECT_EQ(run_strata("export " + q(dir / "w.safetensors") + " -o " + q(dir / "c.onnx") + " --opset 18").exit_code, 2);
  expect_output(run_strata("export " + q(dir / "torch.safetensors") + " -o " + q(dir / "c.onnx")), 1,
                "name its architecture with --model NAME");
  expect_output(run_strata("export " + q(dir / "w.safetensors") + " -o " + q(dir / "none" / "c.onnx")), 1,
                "onnx::save: '" + (dir / "none" / "c.onnx").string() + "'");
  EXPECT_FALSE(std::filesystem::exists(dir / "c.onnx"));
}
