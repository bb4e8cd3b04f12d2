// Every subcommand given bad arguments (issue 22): a message naming the problem and exit code 1
// (or 2 for what the command line's grammar refuses), never a crash, an uncaught exception
// ("internal error") or an attempt to allocate what a mistyped number asks for.
#include "train_util.hpp"

using namespace strata;

namespace {

struct BadCall {
  const char* args;  // {dir} stands for the test's folder
  int exit_code;
  const char* fragment;
};

const BadCall kBadCalls[] = {
    {"summary nope", 1, "unknown model 'nope'; the zoo has: lenet,"},
    {"summary lenet --input 1,2", 1, "--input: lenet takes a 4-D input such as [1,1,28,28], got [1,2]"},
    {"summary lenet --input 0,1,28,28", 1, "--input: expected at most 6 positive integers"},
    {"summary lenet --input 1,1,2,2", 1, "lenet cannot take input [1,1,2,2]: it stops at layer 3 (Conv2d)"},
    {"summary lenet --input 99999999,1,28,28", 1, "--input: an input of [99999999,1,28,28] floats would take 292.063 GiB"},
    {"summary lenet --classes 999999999999", 2, "--classes: Value 999999999999 not in range 1 to 100000"},
    {"summary lenet --mode x", 2, "--mode: x not in {infer,train}"},
    {"summary {dir}/garbage.onnx", 1, "not an ONNX model (the protobuf does not parse)"},
    {"summary {dir}/missing.onnx", 1, "cannot open for reading: No such file or directory"},
    {"train lenet --resize 1 --epochs 1", 1, "lenet cannot take 1x1x1 images: it stops at layer 2 (AvgPool2d)"},
    {"train lenet --resize 100000", 2, "--resize: Value 100000 not in range 1 to 2048"},
    {"train lenet --batch-size 0", 2, "--batch-size: Value 0 not in range 1 to 65536"},
    {"train lenet --data {dir}/garbage.safetensors --epochs 1", 1, "Fashion-MNIST not found in"},
    {"train lenet --dataset folder --data {dir}/empty --epochs 1", 1, "image folder {dir}/empty/train not found"},
    {"train lenet --init {dir}/garbage.safetensors --epochs 1", 1, "the header length is"},
    {"train lenet --init {dir}/empty", 2, "--init: File is actually a directory"},
    {"train lenet --out /proc/strata-cannot --epochs 1", 1, "cannot create the output directory /proc/strata-cannot"},
    {"train lenet --epochs 99999999999", 2, "--epochs: Value 99999999999 not in range 1 to 100000"},
    {"train lenet --lr nan", 2, "--lr: must be a positive number, got nan"},
    {"train lenet --momentum 2", 2, "--momentum: Value 2 not in range"},
    {"train lenet --seed -1", 2, "--seed: expected a whole number from 0 to 18446744073709551615, got '-1'"},
    {"train --resume {dir}/w.safetensors", 1, "is a file; --resume takes the output directory of a run"},
    {"train --resume {dir}/empty", 1, "not found; --resume takes the output directory of a run"},
    {"train lenet --limit-train -5", 2, "--limit-train: Value -5 not in range"},
    {"eval {dir}/garbage.safetensors", 1, "the header length is"},
    {"eval {dir}/empty", 1, "is not a regular file"},
    {"eval {dir}/w.safetensors --dataset cifar10 --data {dir}/empty", 1, "CIFAR-10 not found in {dir}/empty"},
    {"eval {dir}/w.safetensors --batch-size 0", 2, "--batch-size: Value 0 not in range 1 to 65536"},
    {"eval {dir}/w.safetensors --model nin", 1, "the weights do not fit this"},
    {"predict {dir}/w.safetensors {dir}/garbage.npy", 1, "does not start with the .npy magic"},
    {"predict {dir}/w.safetensors {dir}/garbage.png", 1, "not a PNG, JPEG or BMP file"},
    {"predict {dir}/w.safetensors {dir}/empty", 1, "no such image file"},
    {"predict {dir}/w.safetensors", 2, "inputs is required"},
    {"predict {dir}/w.safetensors {dir}/x.npy --top-k 0", 2, "--top-k: Value 0 not in range"},
    {"bench nope", 1, "unknown model 'nope'"},
    {"bench lenet --input 1,2", 1, "--input: lenet takes 3 values (C,H,W or C,D,H,W), got [1,2]"},
    {"bench lenet --batch-size 100000000", 1, "--batch-size and --input: an input of [100000000,1,28,28] floats"},
    {"bench lenet --input 1,100000,100000", 1, "would take 9536.74 GiB (at most 4)"},
    {"bench lenet --iters 0", 2, "--iters: Value 0 not in range"},
    {"bench lenet --weights {dir}/garbage.safetensors", 1, "the header length is"},
    {"bench lenet --weights {dir}/w.safetensors --input 1,32,32 --iters 1", 1,
     "layer 7 (Linear) cannot take input [1,576]"},
    {"bench {dir}/garbage.onnx", 1, "not an ONNX model"},
    {"export {dir}/garbage.safetensors -o {dir}/x.onnx", 1, "the header length is"},
    {"export {dir}/w.safetensors -o {dir}/none/x.onnx", 1, "(does the directory '{dir}/none' exist?)"},
    {"export {dir}/w.safetensors -o {dir}/x.onnx --batch -3", 1, "--batch: expected at most 6 positive integers"},
    {"export {dir}/w.safetensors -o {dir}/x.onnx --batch 99999999999", 1, "--batch: an input of [99999999999,1,28,28]"},
    {"export {dir}/w.safetensors -o {dir}/x.onnx --opset 12", 2, "--opset: Value 12 not in range 13 to 17"},
    {"export {dir}/w.safetensors -o {dir}/empty", 1, "exists and is a directory"},
    {"export {dir}/w.safetensors", 2, "--output is required"},
    {"models extra", 2, "The following argument was not expected: extra"},
    {"nonsense", 2, "A subcommand is required"},
};

std::string with_dir(std::string text, const std::string& dir) {
  for (std::size_t at; (at = text.find("{dir}")) != std::string::npos;) text.replace(at, 5, dir);
  return text;
}

}  // namespace

TEST(CliErrors, EverySubcommandRefusesBadArgumentsCleanly) {
  test::TempDir dir;
  std::filesystem::create_directories(dir / "empty");
  nn::save_weights(*models::build("lenet"), dir / "w.safetensors", {{"strata.model", "lenet"}});
  const test::Bytes garbage = {'n', 'o', 't', ' ', 'a', ' ', 'm', 'o', 'd', 'e', 'l', ' ', 'f', 'i', 'l', 'e'};
  for (const char* name : {"garbage.safetensors", "garbage.onnx", "garbage.npy", "garbage.png"})
    test::write_file(dir / name, garbage);
  for (const BadCall& call : kBadCalls) {
    const std::string args = with_dir(call.args, dir.path().string());
    SCOPED_TRACE(args);
    const test::CommandResult r = test::run_strata(args);
    EXPECT_EQ(r.exit_code, call.exit_code) << r.output;
    EXPECT_NE(r.output.find(with_dir(call.fragment, dir.path().string())), std::string::npos) << r.output;
    if (call.exit_code == 1) {
      EXPECT_TRUE(r.output.starts_with("strata: error: ")) << r.output;
    }
    EXPECT_EQ(r.output.find("internal error"), std::string::npos) << r.output;
  }
}
