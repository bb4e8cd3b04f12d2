// Generator: PCG32 output, reproducibility, state save/restore, distributions.
#include <cmath>

#include "common/test_util.hpp"

using namespace strata;
using namespace strata::test;

// The reference implementation's demo (pcg32_srandom_r(&rng, 42, 54)) prints these six values.
TEST(Generator, MatchesThePcg32Reference) {
  Generator gen;
  Generator::State s;
  s.state = 0;
  s.increment = (54u << 1u) | 1u;
  gen.set_state(s);
  gen.next_u32();
  s = gen.state();
  s.state += 42;
  gen.set_state(s);
  gen.next_u32();
  const uint32_t expected[] = {0xa15c02b7, 0x7b47f409, 0xba1d3330, 0x83d2f293, 0xbfa4784b, 0xcbed606e};
  for (uint32_t e : expected) EXPECT_EQ(gen.next_u32(), e);
}

TEST(Generator, SameSeedSameSequence) {
  Generator a(123), b(123), c(124);
  bool differs = false;
  for (int i = 0; i < 100; ++i) {
    const uint64_t x = a.next_u64();
    EXPECT_EQ(x, b.next_u64());
    differs |= x != c.next_u64();
  }
  EXPECT_TRUE(differs);
  // seed() restarts the sequence.
  Generator d(5);
  const uint64_t first = d.next_u64();
  d.next_u64();
  d.seed(5);
  EXPECT_EQ(d.next_u64(), first);
}

TEST(Generator, StateRoundTripIncludesTheSpareNormal) {
  Generator a(9);
  a.normal();  // leaves a spare normal behind
  const Generator::State saved = a.state();
  EXPECT_TRUE(saved.has_spare_normal);
  const double n1 = a.normal(), n2 = a.normal();
  const double u = a.uniform();
  Generator b(0);
  b.set_state(saved);
  EXPECT_EQ(b.normal(), n1);
  EXPECT_EQ(b.normal(), n2);
  EXPECT_EQ(b.uniform(), u);
}

TEST(Generator, UniformMoments) {
  Generator gen(1);
  const int n = 200000;
  double sum = 0, sq = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const double u = gen.uniform();
    sum += u, sq += u * u, lo = std::min(lo, u), hi = std::max(hi, u);
  }
  const double mean = sum / n;
  EXPECT_GE(lo, 0.0);
  EXPECT_LT(hi, 1.0);
  EXPECT_NEAR(mean, 0.5, 0.005);
  EXPECT_NEAR(sq / n - mean * mean, 1.0 / 12, 0.002);
}

TEST(Generator, NormalMoments) {
  Generator gen(2);
  const int n = 200000;
  double sum = 0, sq = 0, within_one = 0;
  for (int i = 0; i < n; ++i) {
    const double z = gen.normal();
    sum += z, sq += z * z;
    within_one += std::abs(z) < 1.0;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sq / n, 1.0, 0.01);
  EXPECT_NEAR(within_one / n, 0.6827, 0.005);
}

TEST(Generator, BelowIsInRangeAndRoughlyUniform) {
  Generator gen(3);
  std::vector<int> counts(6, 0);
  for (int i = 0; i < 60000; ++i) {
    const uint64_t r = gen.below(6);
    ASSERT_LT(r, 6u);
    ++counts[r];
  }
  for (int c : counts) EXPECT_NEAR(c, 10000, 400);
  EXPECT_EQ(gen.below(1), 0u);
  const uint64_t huge = (uint64_t{1} << 63) + 12345;
  for (int i = 0; i < 100; ++i) EXPECT_LT(gen.below(huge), huge);
  expect_error([&] { gen.below(0); }, "Generator::below: the bound must be positive, got 0");
}

TEST(Generator, ManualSeedResetsTheDefaultGenerator) {
  manual_seed(77);
  const uint64_t a = default_generator().next_u64();
  const double b = default_generator().normal();
  manual_seed(77);
  EXPECT_EQ(default_generator().next_u64(), a);
  EXPECT_EQ(default_generator().normal(), b);
}
