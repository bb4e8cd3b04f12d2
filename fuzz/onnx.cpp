// Fuzz harness: ONNX models (onnx::from_bytes on the input as the serialized ModelProto). Covers
// the protobuf parse, the opset and graph checks, initializers against their declared sizes, the
// folding of shape arithmetic and the building of every supported operator. A model that imports
// with a small fixed input (at most kMaxInput values, kMaxParameters weights) also runs forward
// once on zeros: a model import accepted must run, or fail with a strata::Error.
#include "fuzz_util.hpp"
#include "strata/autograd.hpp"
#include "strata/onnx.hpp"

namespace {

constexpr int64_t kMaxInput = 4096, kMaxParameters = int64_t{1} << 20;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string bytes(strata::fuzz::as_chars(data, size));
  strata::fuzz::expect_strata_errors_only([&] {
    strata::onnx::Imported model = strata::onnx::from_bytes(bytes, "fuzz.onnx: ");
    const strata::Shape input = model.example_shape();
    if (input.numel() > kMaxInput || model.module->num_parameters() > kMaxParameters) return;
    strata::NoGradGuard no_grad;
    (*model.module)(strata::zeros(input));
  });
  return 0;
}
