// Tensor transforms: values computed by hand.
#include "common/test_util.hpp"

using namespace strata;
using namespace strata::data;
using strata::test::expect_error;
using strata::test::expect_near;

namespace {

Tensor f32(std::vector<float> values, const Shape& shape) { return from_data(std::span<const float>(values), shape); }

// (N, C, H, W) with element value 1 + its flat index, so that 0 marks padding.
Tensor ramp(const Shape& shape) { return arange(1.0, static_cast<double>(shape.numel()) + 1.0).view(shape); }

}  // namespace

TEST(ToFloat, ScalesToUnitInterval) {
  const std::vector<uint8_t> pixels = {0, 255, 51, 102};
  expect_near(to_float(pixels, {1, 1, 2, 2}), {1, 1, 2, 2}, {0.0, 1.0, 0.2, 0.4}, 1e-7);
  expect_error([&] { to_float(pixels, {1, 1, 3, 2}); }, "4 pixels do not fill shape [1,1,3,2]");
}

// F.interpolate(torch.arange(4.).view(1, 1, 2, 2), size=(4, 4), mode="bilinear"): each axis
// samples input positions max((o + 0.5) / 2 - 0.5, 0) = 0, 0.25, 0.75, 1(.25 clamped to the edge).
TEST(ResizeBilinear, Upsample2To4MatchesPyTorch) {
  expect_near(resize_bilinear(f32({0, 1, 2, 3}, {1, 1, 2, 2}), 4, 4), {1, 1, 4, 4},
              {0.0, 0.25, 0.75, 1.0,  //
               0.5, 0.75, 1.25, 1.5,  //
               1.5, 1.75, 2.25, 2.5,  //
               2.0, 2.25, 2.75, 3.0});
}

// Non-integer ratios, different per axis. The input a[y] + b[x] stays a sum after the (linear,
// separable) resize, so each axis can be checked alone:
//   rows 3 -> 5, scale 0.6: positions 0 (clamped), 0.4, 1.0, 1.6, 2.2 (i1 clamped to 2)
//     a = [0, 10, 40] -> [0, 4, 10, 10 + 0.6*30 = 28, 40]
//   cols 2 -> 3, scale 2/3: positions 0 (clamped), 0.5, 1.1667 (i1 clamped to 1)
//     b = [0, 6] -> [0, 3, 6]
TEST(ResizeBilinear, NonIntegerRatiosPerAxis) {
  const std::vector<float> a = {0, 10, 40}, b = {0, 6};
  std::vector<float> in;
  for (int c = 1; c <= 2; ++c)  // channel c holds c * (a[y] + b[x])
    for (float ay : a)
      for (float bx : b) in.push_back(static_cast<float>(c) * (ay + bx));
  const std::vector<double> A = {0, 4, 10, 28, 40}, B = {0, 3, 6};
  std::vector<double> expected;
  for (int c = 1; c <= 2; ++c)
    for (double ay : A)
      for (double bx : B) expected.push_back(c * (ay + bx));
  expect_near(resize_bilinear(f32(in, {1, 2, 3, 2}), 5, 3), {1, 2, 5, 3}, expected, 1e-6);
}

// 4 -> 2 reads positions (o + 0.5) * 2 - 0.5 = 0.5, 2.5: the mean of each 2x2 block.
TEST(ResizeBilinear, DownsampleAndIdentity) {
  const Tensor x = arange(16).view({1, 1, 4, 4});
  expect_near(resize_bilinear(x, 2, 2), {1, 1, 2, 2}, {2.5, 4.5, 10.5, 12.5});
  expect_near(resize_bilinear(f32({0, 10, 20}, {1, 1, 1, 3}), 1, 2), {1, 1, 1, 2}, {2.5, 17.5});
  test::expect_close(resize_bilinear(x, 4, 4), x, 0.0);
  expect_error([&] { resize_bilinear(x, 0, 3); }, "resize_bilinear: output size must be positive, got 0x3");
  expect_error([&] { resize_bilinear(arange(4).view({2, 2}), 3, 3); }, "resize_bilinear: images must be (N, C, H, W)");
  expect_error([&] { resize_bilinear(x.to(DType::F64), 3, 3); }, "images must be f32");
  expect_error([&] { resize_bilinear(empty({1, 1, 0, 2}, DType::F32), 3, 3); },
               "resize_bilinear: the images are 2x0 (width x height): there are no pixels to interpolate");
}

TEST(Normalize, PerChannelAndShared) {
  const Tensor x = f32({0.5f, 1.0f, 0.25f, 0.75f}, {1, 2, 1, 2});
  expect_near(normalize(x, {0.5f, 0.25f}, {0.5f, 0.25f}), {1, 2, 1, 2}, {0.0, 1.0, 0.0, 2.0});
  expect_near(normalize(x, {0.5f}, {2.0f}), {1, 2, 1, 2}, {0.0, 0.25, -0.125, 0.125});
  expect_error([&] { normalize(x, {0.1f, 0.2f, 0.3f}, {1.0f}); }, "mean has 3 values but the images have 2 channels");
  expect_error([&] { normalize(x, {0.1f}, {0.0f}); }, "every std must be positive");
}

TEST(RandomCrop, PaddedWindowsFollowTheGenerator) {
  const Tensor x = ramp({3, 2, 4, 4});
  Generator gen(7), replay(7);
  const Tensor y = random_crop(x, 4, 4, 2, gen);
  ASSERT_EQ(y.shape(), (Shape{3, 2, 4, 4}));
  const std::vector<float> in = x.to_vector<float>(), out = y.to_vector<float>();
  bool saw_padding = false;
  for (int64_t n = 0; n < 3; ++n) {
    const auto top = static_cast<int64_t>(replay.below(5)) - 2, left = static_cast<int64_t>(replay.below(5)) - 2;
    for (int64_t c = 0; c < 2; ++c)
      for (int64_t r = 0; r < 4; ++r)
        for (int64_t col = 0; col < 4; ++col) {
          const int64_t sy = top + r, sx = left + col;
          const bool inside = sy >= 0 && sy < 4 && sx >= 0 && sx < 4;
          saw_padding |= !inside;
          const float expected = inside ? in[((n * 2 + c) * 4 + sy) * 4 + sx] : 0.0f;
          EXPECT_EQ(out[((n * 2 + c) * 4 + r) * 4 + col], expected) << n << "," << c << "," << r << "," << col;
        }
  }
  EXPECT_TRUE(saw_padding);
  Generator again(7);
  test::expect_close(random_crop(x, 4, 4, 2, again), y, 0.0);
}

TEST(RandomCrop, SmallerWindowWithoutPadding) {
  const Tensor x = ramp({1, 1, 3, 4});
  Generator gen(3), replay(3);
  const std::vector<float> out = random_crop(x, 2, 3, 0, gen).to_vector<float>();
  const int64_t top = static_cast<int64_t>(replay.below(2)), left = static_cast<int64_t>(replay.below(2));
  for (int64_t r = 0; r < 2; ++r)
    for (int64_t c = 0; c < 3; ++c) EXPECT_EQ(out[r * 3 + c], static_cast<float>(1 + (top + r) * 4 + left + c));
  expect_error([&] { random_crop(x, 4, 4, 0, gen); }, "crop 4x4 must be positive and fit the padded image 3x4");
  expect_error([&] { random_crop(x, 2, 2, -1, gen); }, "padding must be >= 0");
}

TEST(RandomHorizontalFlip, MirrorsWhenDrawn) {
  const Tensor x = ramp({64, 1, 2, 3});
  Generator always(1);
  const std::vector<float> flipped = random_horizontal_flip(x, 1.0, always).to_vector<float>();
  for (int64_t n = 0; n < 64; ++n)
    for (int64_t r = 0; r < 2; ++r)
      for (int64_t c = 0; c < 3; ++c)
        EXPECT_EQ(flipped[(n * 2 + r) * 3 + c], static_cast<float>(1 + (n * 2 + r) * 3 + 2 - c));

  Generator never(1), untouched(1);
  test::expect_close(random_horizontal_flip(x, 0.0, never), x, 0.0);
  EXPECT_EQ(never.next_u64(), untouched.next_u64());  // p = 0 draws nothing

  Generator gen(5), replay(5);
  const std::vector<float> half = random_horizontal_flip(x, 0.5, gen).to_vector<float>();
  int count = 0;
  for (int64_t n = 0; n < 64; ++n) {
    const bool flip = replay.uniform() < 0.5;
    count += flip;
    EXPECT_EQ(half[n * 6], static_cast<float>(1 + n * 6 + (flip ? 2 : 0))) << n;
  }
  EXPECT_GT(count, 10);
  EXPECT_LT(count, 54);
  expect_error([&] { random_horizontal_flip(x, 1.5, gen); }, "probability must be in [0, 1], got 1.5");
}
