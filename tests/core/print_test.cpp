// Tensor::str(): PyTorch's layout and number formats, plus Strata's shape/dtype/grad suffixes.
#include <limits>
#include <sstream>

#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

TEST(Print, MatrixAndVector) {
  EXPECT_EQ(arange(4).view({2, 2}).str(), "tensor([[0., 1.],\n        [2., 3.]], shape=[2,2])");
  EXPECT_EQ(from_data({1, 2, 3}).str(), "tensor([1., 2., 3.])");
  EXPECT_EQ(from_data({-1, 10}).str(), "tensor([-1., 10.])");
  EXPECT_EQ(zeros({2}).str(), "tensor([0., 0.])");
  EXPECT_EQ(from_data({1.5, -2.25, 3}).str(), "tensor([ 1.5000, -2.2500,  3.0000])");
  std::ostringstream out;
  out << from_data({1, 2});
  EXPECT_EQ(out.str(), "tensor([1., 2.])");
}

TEST(Print, ThreeDimensionsLeaveABlankLineBetweenMatrices) {
  EXPECT_EQ(arange(8).view({2, 2, 2}).str(),
            "tensor([[[0., 1.],\n"
            "         [2., 3.]],\n"
            "\n"
            "        [[4., 5.],\n"
            "         [6., 7.]]], shape=[2,2,2])");
}

TEST(Print, Scalars) {
  EXPECT_EQ(full({}, 2.5).str(), "tensor(2.5000)");
  EXPECT_EQ(full({}, 3.0).str(), "tensor(3.)");
  EXPECT_EQ(full({}, -7, DType::I64).str(), "tensor(-7, dtype=i64)");
}

TEST(Print, DtypeSuffixes) {
  const std::vector<double> d{1, 2};
  EXPECT_EQ(from_data(std::span<const double>(d)).str(), "tensor([1., 2.], dtype=f64)");
  const std::vector<int64_t> i{1, -20, 300};
  EXPECT_EQ(from_data(std::span<const int64_t>(i)).str(), "tensor([  1, -20, 300], dtype=i64)");
  const std::vector<int64_t> big{int64_t{1} << 53 | 1};
  EXPECT_EQ(from_data(std::span<const int64_t>(big)).str(), "tensor([9007199254740993], dtype=i64)");
}

TEST(Print, GradSuffixes) {
  Tensor x = requires_grad(ones({2}));
  EXPECT_EQ(x.str(), "tensor([1., 1.], requires_grad=true)");
  EXPECT_EQ((x * 2.0).str(), "tensor([2., 2.], grad_fn=mul)");
  EXPECT_EQ((x + x).sum().str(), "tensor(4., grad_fn=sum)");
  EXPECT_EQ(requires_grad(ones({1, 1}, DType::F64)).str(),
            "tensor([[1.]], shape=[1,1], dtype=f64, requires_grad=true)");
  EXPECT_EQ(x.detach().str(), "tensor([1., 1.])");
}

TEST(Print, UndefinedAndEmpty) {
  EXPECT_EQ(Tensor().str(), "tensor(undefined)");
  EXPECT_EQ(zeros({0}).str(), "tensor([])");
  EXPECT_EQ(zeros({0, 3}).str(), "tensor([], shape=[0,3])");
}

TEST(Print, ScientificNotation) {
  EXPECT_EQ(from_data({1e-5f, 1.0f}).str(), "tensor([1.0000e-05, 1.0000e+00])");
  // Whole numbers spanning more than a factor 1000 switch too, as in PyTorch.
  EXPECT_EQ(from_data({1, 2000}).str(), "tensor([1.0000e+00, 2.0000e+03])");
  EXPECT_EQ(from_data({1e9f}).str(), "tensor([1.0000e+09])");
  // Zeros do not count as small magnitudes.
  EXPECT_EQ(from_data({0, 0.5}).str(), "tensor([0.0000, 0.5000])");
}

TEST(Print, NonFiniteValues) {
  const float inf = std::numeric_limits<float>::infinity(), nan = std::numeric_limits<float>::quiet_NaN();
  EXPECT_EQ(from_data({nan, inf, -inf, 1}).str(), "tensor([nan, inf, -inf, 1.])");
  EXPECT_EQ(from_data({-nan, 0.5f}).str(), "tensor([   nan, 0.5000])");
}

TEST(Print, ViewsPrintTheirOwnElements) {
  EXPECT_EQ(arange(6).view({2, 3}).transpose(0, 1).str(),
            "tensor([[0., 3.],\n        [1., 4.],\n        [2., 5.]], shape=[3,2])");
  EXPECT_EQ(arange(10).slice(0, 7, 10).str(), "tensor([7., 8., 9.])");
  EXPECT_EQ(from_data({1, 2}).expand({2, 2}).str(), "tensor([[1., 2.],\n        [1., 2.]], shape=[2,2])");
}

TEST(Print, LongRowsWrapAt80Columns) {
  EXPECT_EQ(arange(20).str(),
            "tensor([ 0.,  1.,  2.,  3.,  4.,  5.,  6.,  7.,  8.,  9., 10., 11., 12., 13.,\n"
            "        14., 15., 16., 17., 18., 19.])");
}

TEST(Print, LargeTensorsAreSummarised) {
  // As PyTorch prints torch.arange(2000.): the shown magnitudes span more than 1000.
  EXPECT_EQ(arange(2000).str(),
            "tensor([0.0000e+00, 1.0000e+00, 2.0000e+00,  ..., 1.9970e+03, 1.9980e+03,\n"
            "        1.9990e+03], shape=[2000])");
  EXPECT_EQ((arange(2000).view({40, 50}) * 0.001 + 1.0).str(),
            "tensor([[1.0000, 1.0010, 1.0020,  ..., 1.0470, 1.0480, 1.0490],\n"
            "        [1.0500, 1.0510, 1.0520,  ..., 1.0970, 1.0980, 1.0990],\n"
            "        [1.1000, 1.1010, 1.1020,  ..., 1.1470, 1.1480, 1.1490],\n"
            "        ...,\n"
            "        [2.8500, 2.8510, 2.8520,  ..., 2.8970, 2.8980, 2.8990],\n"
            "        [2.9000, 2.9010, 2.9020,  ..., 2.9470, 2.9480, 2.9490],\n"
            "        [2.9500, 2.9510, 2.9520,  ..., 2.9970, 2.9980, 2.9990]], shape=[40,50])");
  const std::string row = "[1., 1., 1.,  ..., 1., 1., 1.]";
  const std::string block = "[" + row + ",\n         " + row + "]";
  const std::string sep = ",\n\n        ";
  EXPECT_EQ(ones({7, 2, 100}).str(), "tensor([" + block + sep + block + sep + block + sep + "..." + sep + block + sep +
                                         block + sep + block + "], shape=[7,2,100])");
  // Exactly 1000 elements are printed in full.
  EXPECT_EQ(ones({1000}).str().find("..."), std::string::npos);
}
