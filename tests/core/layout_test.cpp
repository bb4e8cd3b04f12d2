// Conversions between plain (N, C, S) and 16-channel blocks (N, ceil(C/16), S, 16), with the
// channels past C zeros in the blocked side (core/layout.hpp): every element at its place, across
// the conversion's 64-position tiles, and back.
#include <gtest/gtest.h>

#include <vector>

#include "core/layout.hpp"
#include "strata/tensor.hpp"

namespace strata {
namespace {

TEST(LayoutConversion, PlainAndPaddedBlocksElementByElement) {
  for (int64_t n : {1, 2})
    for (int64_t c : {3, 16, 20, 24, 40})  // 3 and 20: a group of 8 channels cut by C
      for (int64_t s : {5, 64, 130}) {   // 5 and 130: positions past the last 8 of a tile
        SCOPED_TRACE(testing::Message() << n << "x" << c << "x" << s);
        const int64_t blocks = (c + 15) / 16;
        std::vector<float> plain(static_cast<std::size_t>(n * c * s)), back(plain.size(), -1.f);
        for (std::size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<float>(i + 1);
        std::vector<float> blocked(static_cast<std::size_t>(n * blocks * s * 16), -1.f);
        plain_to_blocked(plain.data(), blocked.data(), n, c, s);
        for (int64_t i = 0; i < n; ++i)
          for (int64_t b = 0; b < blocks; ++b)
            for (int64_t p = 0; p < s; ++p)
              for (int64_t k = 0; k < 16; ++k) {
                const int64_t channel = b * 16 + k;
                const float want = channel < c ? plain[static_cast<std::size_t>((i * c + channel) * s + p)] : 0.f;
                ASSERT_EQ(blocked[static_cast<std::size_t>(((i * blocks + b) * s + p) * 16 + k)], want)
                    << "image " << i << " channel " << channel << " position " << p;
              }
        blocked_to_plain(blocked.data(), back.data(), n, c, s);
        EXPECT_EQ(back, plain);
      }
}

// One position per channel (a global pooling's output): the blocked and plain layouts are the
// same memory, so converting gives a view of it; with two positions it is a copy.
TEST(LayoutConversion, OnePositionPerChannelIsAView) {
  std::vector<float> values(64);
  for (std::size_t i = 0; i < values.size(); ++i) values[i] = static_cast<float>(i);
  const Tensor plain = from_data(values, {2, 32, 1, 1});
  const Tensor blocked = to_layout(plain, Layout::Blocked16);
  EXPECT_EQ(blocked.layout(), Layout::Blocked16);
  EXPECT_EQ(blocked.storage(), plain.storage());
  const Tensor back = to_layout(blocked, Layout::Strided);
  EXPECT_EQ(back.layout(), Layout::Strided);
  EXPECT_EQ(back.storage(), plain.storage());
  EXPECT_EQ(back.to_vector<float>(), values);
  const Tensor two = to_layout(from_data(values, {1, 32, 1, 2}), Layout::Blocked16);
  std::vector<float> expected(64);
  for (int64_t c = 0; c < 32; ++c)
    for (int64_t p = 0; p < 2; ++p) expected[static_cast<std::size_t>(((c / 16) * 2 + p) * 16 + c % 16)] = values[static_cast<std::size_t>(c * 2 + p)];
  EXPECT_EQ(std::vector<float>(two.data<float>(), two.data<float>() + 64), expected);
}

}  // namespace
}  // namespace strata
