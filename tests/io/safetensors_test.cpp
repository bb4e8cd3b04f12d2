// safetensors: round trips, the exact bytes the reference library writes, and files written by
// PyTorch through tools/torch_weights.py.
//
// Fixtures in tests/fixtures/io/, generated from the repository root with:
//   /usr/bin/python3 -c "import torch; torch.save({'conv.weight': torch.arange(18, dtype=torch.float32).reshape(2, 1, 3, 3) / 4, 'conv.bias': torch.tensor([-1.5, 2.25]), 'bn.num_batches_tracked': torch.tensor(7), 'scale': torch.tensor([[0.1, -0.2]], dtype=torch.float64), 'empty': torch.zeros(0, 3)}, '/tmp/io_state.pt')"
//   /usr/bin/python3 tools/torch_weights.py export /tmp/io_state.pt tests/fixtures/io/torch_state.safetensors --metadata format=pt
//   /usr/bin/python3 -c "import torch; torch.save({'half': torch.tensor([1.5, -2.0, 65504.0, 2.0**-24, float('-inf')], dtype=torch.float16), 'bf16': torch.tensor([1.0, -3.5, 2.0**100], dtype=torch.bfloat16), 'i32': torch.tensor([-2**31, 2**31 - 1], dtype=torch.int32), 'i16': torch.tensor([-32768, 32767], dtype=torch.int16), 'i8': torch.tensor([[-128], [127]], dtype=torch.int8), 'u8': torch.tensor([0, 255], dtype=torch.uint8)}, '/tmp/io_widened.pt')"
//   /usr/bin/python3 tools/torch_weights.py export /tmp/io_widened.pt tests/fixtures/io/torch_widened.safetensors
#include <cmath>

#include "common/test_util.hpp"
#include "io/io_test_util.hpp"
#include "strata/io.hpp"

using namespace strata;
using strata::test::expect_file_error;
using strata::test::read_bytes;
using strata::test::ScratchDir;

namespace {

std::vector<std::string> names_of(const io::TensorFile& file) {
  std::vector<std::string> names;
  for (const auto& [name, tensor] : file.tensors) names.push_back(name);
  return names;
}

// Same shape, dtype and bit-identical elements.
void expect_same(const Tensor& actual, const Tensor& expected) {
  ASSERT_EQ(actual.shape(), expected.shape());
  ASSERT_EQ(actual.dtype(), expected.dtype());
  if (actual.dtype() == DType::I64)
    EXPECT_EQ(actual.to_vector<int64_t>(), expected.to_vector<int64_t>());
  else
    EXPECT_EQ(actual.to_vector<double>(), expected.to_vector<double>());
}

}  // namespace

TEST(Safetensors, RoundTripKeepsValuesShapesAndDtypes) {
  ScratchDir dir;
  const io::NamedTensors tensors = {
      {"f32", test::random({3, 4}, 1, DType::F32)},
      {"f64", test::random({2, 5}, 2, DType::F64)},
      {"i64", from_data(std::vector<int64_t>{-(int64_t{1} << 62), -1, 0, 1, int64_t{1} << 40}, {5})},
      {"scalar", full({}, -0.75)},
      {"five_d", test::random({2, 1, 3, 2, 2}, 3, DType::F32)},
      {"six_d", test::random({1, 2, 1, 2, 1, 2}, 4, DType::F64)},
      {"empty", empty({0, 3})},
      {"empty_i64", empty({0}, DType::I64)},
      {"transposed", test::random({3, 2}, 5, DType::F32).transpose(0, 1)},
      {"requires_grad", test::requires_grad(test::random({2, 3}, 6, DType::F32))},
  };
  const io::Metadata metadata = {{"format", "pt"}, {"note", "quotes \" backslash \\ newline \n tab \t üñï"}};
  io::save_safetensors(dir / "w.safetensors", tensors, metadata);

  const io::TensorFile file = io::load_safetensors(dir / "w.safetensors");
  EXPECT_EQ(file.metadata, metadata);
  EXPECT_TRUE(file.notes.empty());
  ASSERT_EQ(file.tensors.size(), tensors.size());
  for (const auto& [name, tensor] : tensors) {
    SCOPED_TRACE(name);
    expect_same(file.at(name), tensor);
    EXPECT_TRUE(file.at(name).is_contiguous());
  }
  EXPECT_EQ(io::read_safetensors_metadata(dir / "w.safetensors"), metadata);
}

TEST(Safetensors, FileOrderIsDtypeThenNameAsTheReferenceWrites) {
  ScratchDir dir;
  io::save_safetensors(dir / "w.safetensors", {{"b", zeros({1})},
                                               {"a", zeros({1})},
                                               {"c", zeros({1}, DType::F64)},
                                               {"d", zeros({1}, DType::I64)}});
  EXPECT_EQ(names_of(io::load_safetensors(dir / "w.safetensors")), (std::vector<std::string>{"d", "c", "a", "b"}));
}

TEST(Safetensors, NoTensorsAndNoMetadata) {
  ScratchDir dir;
  io::save_safetensors(dir / "none.safetensors", {});
  EXPECT_EQ(read_bytes(dir / "none.safetensors"), test::le64(8) + "{}      ");
  const io::TensorFile file = io::load_safetensors(dir / "none.safetensors");
  EXPECT_TRUE(file.tensors.empty());
  EXPECT_TRUE(file.metadata.empty());
}

// Expected bytes from the reference implementation's own tests (safetensors/src/tensor.rs:
// test_serialization, test_serialization_forced_alignement, test_empty).
TEST(Safetensors, ExactBytesOfTinyFilesMatchTheReference) {
  ScratchDir dir;
  const Tensor values = arange(6).view({1, 2, 3});
  std::string data;
  for (float v : values.to_vector<float>()) data.append(reinterpret_cast<const char*>(&v), 4);

  io::save_safetensors(dir / "a.safetensors", {{"attn.0", values}});
  EXPECT_EQ(read_bytes(dir / "a.safetensors"),
            test::le64(64) + R"({"attn.0":{"dtype":"F32","shape":[1,2,3],"data_offsets":[0,24]}})" + data);

  io::save_safetensors(dir / "b.safetensors", {{"attn0", values.view({1, 1, 2, 3})}});
  EXPECT_EQ(read_bytes(dir / "b.safetensors"),
            test::le64(72) + R"({"attn0":{"dtype":"F32","shape":[1,1,2,3],"data_offsets":[0,24]}})" +
                std::string(7, ' ') + data);

  io::save_safetensors(dir / "c.safetensors", {}, {{"framework", "pt"}});
  EXPECT_EQ(read_bytes(dir / "c.safetensors"), test::le64(40) + R"({"__metadata__":{"framework":"pt"}})" + "     ");
}

TEST(Safetensors, LoadsFileWrittenFromPyTorch) {
  const io::TensorFile file = io::load_safetensors(test::data_file("torch_state.safetensors"));
  EXPECT_EQ(names_of(file),
            (std::vector<std::string>{"bn.num_batches_tracked", "scale", "conv.bias", "conv.weight", "empty"}));
  EXPECT_EQ(file.metadata, (io::Metadata{{"format", "pt"}}));
  EXPECT_TRUE(file.notes.empty());

  std::vector<double> weight(18);
  for (int i = 0; i < 18; ++i) weight[i] = i / 4.0;
  test::expect_near(file.at("conv.weight"), {2, 1, 3, 3}, weight, 0);
  EXPECT_EQ(file.at("conv.weight").dtype(), DType::F32);
  test::expect_near(file.at("conv.bias"), {2}, {-1.5, 2.25}, 0);
  EXPECT_EQ(file.at("scale").dtype(), DType::F64);
  test::expect_near(file.at("scale"), {1, 2}, {0.1, -0.2}, 0);
  EXPECT_EQ(file.at("bn.num_batches_tracked").dtype(), DType::I64);
  EXPECT_EQ(file.at("bn.num_batches_tracked").shape(), Shape{});
  EXPECT_EQ(file.at("bn.num_batches_tracked").to_vector<int64_t>(), std::vector<int64_t>{7});
  EXPECT_EQ(file.at("empty").shape(), (Shape{0, 3}));
  EXPECT_EQ(file.find("missing"), nullptr);
  test::expect_error([&] { file.at("missing"); }, "no tensor named 'missing'");
}

TEST(Safetensors, RewritingThePyTorchFileGivesTheSameBytes) {
  ScratchDir dir;
  const io::TensorFile file = io::load_safetensors(test::data_file("torch_state.safetensors"));
  io::NamedTensors reversed(file.tensors.rbegin(), file.tensors.rend());  // input order must not matter
  io::save_safetensors(dir / "again.safetensors", reversed, file.metadata);
  EXPECT_EQ(read_bytes(dir / "again.safetensors"), read_bytes(test::data_file("torch_state.safetensors")));
}

TEST(Safetensors, WidensHalfFloatsAndNarrowIntegersWithNotes) {
  const io::TensorFile file = io::load_safetensors(test::data_file("torch_widened.safetensors"));
  EXPECT_EQ(names_of(file), (std::vector<std::string>{"i32", "bf16", "half", "i16", "i8", "u8"}));

  const Tensor& half = file.at("half");
  ASSERT_EQ(half.dtype(), DType::F32);
  const std::vector<float> h = half.to_vector<float>();
  ASSERT_EQ(h.size(), 5u);
  EXPECT_EQ(h[0], 1.5f);
  EXPECT_EQ(h[1], -2.0f);
  EXPECT_EQ(h[2], 65504.0f);
  EXPECT_EQ(h[3], std::ldexp(1.0f, -24));  // the smallest subnormal half
  EXPECT_TRUE(std::isinf(h[4]) && h[4] < 0);

  ASSERT_EQ(file.at("bf16").dtype(), DType::F32);
  EXPECT_EQ(file.at("bf16").to_vector<double>(), (std::vector<double>{1.0, -3.5, std::ldexp(1.0, 100)}));
  EXPECT_EQ(file.at("i32").to_vector<int64_t>(), (std::vector<int64_t>{-2147483648LL, 2147483647LL}));
  EXPECT_EQ(file.at("i16").to_vector<int64_t>(), (std::vector<int64_t>{-32768, 32767}));
  EXPECT_EQ(file.at("i8").shape(), (Shape{2, 1}));
  EXPECT_EQ(file.at("i8").to_vector<int64_t>(), (std::vector<int64_t>{-128, 127}));
  EXPECT_EQ(file.at("u8").to_vector<int64_t>(), (std::vector<int64_t>{0, 255}));
  for (const auto& [name, t] : file.tensors) EXPECT_TRUE(t.dtype() == DType::F32 || t.dtype() == DType::I64) << name;

  ASSERT_EQ(file.notes.size(), 6u);
  EXPECT_EQ(file.notes[1], "tensor 'bf16' is stored as BF16 and was loaded as f32");
  EXPECT_EQ(file.notes[0], "tensor 'i32' is stored as I32 and was loaded as i64");
}

TEST(Safetensors, SaveRefusesBadInput) {
  ScratchDir dir;
  const auto path = dir / "w.safetensors";
  const auto save = [&](const io::NamedTensors& t) { return [&path, t] { io::save_safetensors(path, t); }; };
  expect_file_error(save({{"a", zeros({1})}, {"a", ones({2})}}), "save_safetensors", path, "two tensors are named 'a'");
  expect_file_error(save({{"__metadata__", zeros({1})}}), "save_safetensors", path, "'__metadata__' is reserved");
  expect_file_error(save({{"a", Tensor()}}), "save_safetensors", path, "tensor 'a' is undefined");
  expect_file_error(save({{"bad\xff", zeros({1})}}), "save_safetensors", path, "not valid UTF-8");
  EXPECT_TRUE(dir.entries().empty());
}
