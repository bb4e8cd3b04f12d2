// save_weights / load_weights for the zoo: a freshly built model that loads another's weights has
// the same state and computes the same outputs; a file that does not fit is refused with every
// missing, unexpected and mis-shaped key named in one message, and changes nothing. (alexnet and
// the VGGs need 224x224 inputs and their files would be 170-520 MB: architecture_test.cpp loads a
// state_dict with PyTorch's names into every zoo model instead.)
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iterator>
#include <set>
#include <sstream>

#include "common/test_util.hpp"

namespace strata {
namespace {

// Bitwise equality of two tensors (shape, dtype and every byte of data).
bool same_data(const Tensor& a, const Tensor& b) {
  if (a.shape() != b.shape() || a.dtype() != b.dtype()) return false;
  const Tensor ca = a.contiguous(), cb = b.contiguous();
  return std::memcmp(ca.raw_data(), cb.raw_data(), static_cast<std::size_t>(a.numel()) * dtype_size(a.dtype())) == 0;
}

// Expects equal state_dicts: same names in order, same values.
void expect_same_state(const nn::Module& a, const nn::Module& b) {
  const nn::NamedTensors sa = a.state_dict(), sb = b.state_dict();
  ASSERT_EQ(sa.size(), sb.size());
  for (std::size_t i = 0; i < sa.size(); ++i) {
    ASSERT_EQ(sa[i].first, sb[i].first);
    EXPECT_TRUE(same_data(sa[i].second, sb[i].second)) << sa[i].first;
  }
}

// Whether any floating-point entry of the two state_dicts differs (fresh models must differ,
// or a round trip would prove nothing).
bool any_weight_differs(const nn::Module& a, const nn::Module& b) {
  const nn::NamedTensors sa = a.state_dict(), sb = b.state_dict();
  for (std::size_t i = 0; i < sa.size(); ++i)
    if (is_floating(sa[i].second.dtype()) && !same_data(sa[i].second, sb[i].second)) return true;
  return false;
}

std::filesystem::path temp_file(const std::string& stem) {
  return std::filesystem::path(::testing::TempDir()) / (stem + "_" + std::to_string(::getpid()) + ".safetensors");
}

struct RoundTrip {
  const char* model;
  Shape input;  // small, to keep the reference kernels quick
};

void PrintTo(const RoundTrip& r, std::ostream* out) { *out << r.model << " at " << r.input; }

class WeightsRoundTrip : public ::testing::TestWithParam<RoundTrip> {};

TEST_P(WeightsRoundTrip, FreshModelLoadsTheWeightsAndComputesTheSame) {
  const auto& [name, input] = GetParam();
  const Tensor x = test::random(input, 3, DType::F32);
  auto source = models::build(name);
  {
    NoGradGuard no_grad;
    (*source)(x);  // a training-mode pass moves BatchNorm's running statistics off their defaults
  }
  source->eval();
  Tensor expected;
  {
    NoGradGuard no_grad;
    expected = (*source)(x);
  }
  const auto path = temp_file(std::string("roundtrip_") + name);
  nn::save_weights(*source, path, {{"strata.model", name}});

  auto copy = models::build(name);
  copy->eval();
  ASSERT_TRUE(any_weight_differs(*source, *copy));
  const io::Metadata metadata = nn::load_weights(*copy, path);
  std::filesystem::remove(path);
  EXPECT_EQ(metadata, (io::Metadata{{"strata.model", name}}));
  expect_same_state(*source, *copy);
  NoGradGuard no_grad;
  const Tensor got = (*copy)(x);
  EXPECT_EQ(got.shape(), Shape({input[0], 10}));
  EXPECT_TRUE(same_data(got, expected)) << "outputs differ after loading the weights";
}

// Tensors stored in another type than the model's (a file written from float64 weights) are read
// and converted, not copied byte for byte into the float32 parameters.
TEST(LoadWeights, ConvertsTheStoredTypeToTheModels) {
  auto source = models::build("lenet-bn");
  nn::NamedTensors wide;
  for (const auto& [name, t] : source->state_dict())
    wide.emplace_back(name, t.dtype() == DType::F32 ? t.to(DType::F64) : t);
  const auto path = temp_file("f64_weights");
  io::save_safetensors(path, wide);
  auto copy = models::build("lenet-bn");
  ASSERT_TRUE(any_weight_differs(*source, *copy));
  nn::load_weights(*copy, path);
  std::filesystem::remove(path);
  expect_same_state(*source, *copy);
}

INSTANTIATE_TEST_SUITE_P(Zoo, WeightsRoundTrip,
                         ::testing::Values(RoundTrip{"lenet", {2, 1, 28, 28}}, RoundTrip{"lenet-bn", {2, 1, 28, 28}},
                                           RoundTrip{"nin", {2, 1, 67, 67}}, RoundTrip{"googlenet", {2, 1, 32, 32}},
                                           RoundTrip{"resnet18", {2, 1, 32, 32}},
                                           RoundTrip{"resnet3d18", {2, 1, 8, 16, 16}}),
                         [](const auto& info) {
                           std::string n = info.param.model;
                           std::erase(n, '-');
                           return n;
                         });

TEST(LoadWeights, ListsEveryMismatchInOneMessageAndChangesNothing) {
  auto lenet = models::build("lenet");
  const auto path = temp_file("lenet");
  nn::save_weights(*lenet, path);
  auto lenet_bn = models::build("lenet-bn");
  const nn::NamedTensors before = lenet_bn->state_dict();
  std::vector<Tensor> copies;
  for (const auto& [_, t] : before) copies.push_back(t.clone());
  try {
    nn::load_weights(*lenet_bn, path);
    FAIL() << "lenet's weights loaded into lenet-bn";
  } catch (const Error& e) {
    const std::string msg = e.what();
    for (const std::string& fragment :
         {"load_weights: '" + path.string() + "': load_state_dict: the weights do not fit this Sequential:",
          std::string("missing keys (26): 1.weight 1.bias 1.running_mean 1.running_var 1.num_batches_tracked 4.weight "
                      "4.bias 5.weight"),
          // The first ten of each kind only: a file of 10k foreign keys gave a 59 KB message (issue 22).
          std::string(" ... and 16 more"),
          std::string("shape mismatches (2): 9.weight (expected [120,256], got [84,120]) 9.bias (expected [120], got "
                      "[84])")})
      EXPECT_NE(msg.find(fragment), std::string::npos) << "message:\n" << msg << "\nlacks: " << fragment;
    // Unexpected keys come in the file's order (safetensors sorts them by name).
    const std::string head = "\n  unexpected keys (6):";
    const std::size_t begin = msg.find(head);
    ASSERT_NE(begin, std::string::npos) << msg;
    std::istringstream line(msg.substr(begin + head.size(), msg.find('\n', begin + 1) - begin - head.size()));
    std::set<std::string> unexpected{std::istream_iterator<std::string>(line), std::istream_iterator<std::string>()};
    EXPECT_EQ(unexpected, (std::set<std::string>{"3.weight", "3.bias", "7.weight", "7.bias", "11.weight", "11.bias"}));
  }
  std::filesystem::remove(path);
  const nn::NamedTensors after = lenet_bn->state_dict();
  for (std::size_t i = 0; i < after.size(); ++i)
    EXPECT_TRUE(same_data(after[i].second, copies[i])) << after[i].first << " changed by a failed load";
}

TEST(LoadWeights, ReportsAShapeMismatchAlone) {
  // lenet for 3 input channels has a first convolution of [6,3,5,5]: only that key differs.
  auto rgb = models::build("lenet", {.in_channels = 3});
  const auto path = temp_file("lenet_rgb");
  nn::save_weights(*rgb, path);
  auto gray = models::build("lenet");
  test::expect_error([&] { nn::load_weights(*gray, path); },
                     "fit this Sequential:\n  shape mismatches (1): 0.weight (expected [6,1,5,5], got [6,3,5,5])");
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace strata
