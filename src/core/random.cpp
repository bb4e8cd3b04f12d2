#include "strata/random.hpp"

#include <cmath>
#include <numbers>

#include "strata/error.hpp"

namespace strata {

// PCG32 (O'Neill, pcg-random.org): 64-bit LCG state, xorshift-rotate output.
Generator::Generator(uint64_t seed) { this->seed(seed); }

void Generator::seed(uint64_t seed) {
  state_ = State{};
  state_.increment = (seed << 1u) | 1u;
  next_u32();
  state_.state += 0x853c49e6748fea9bULL ^ seed;
  next_u32();
}

uint32_t Generator::next_u32() {
  const uint64_t old = state_.state;
  state_.state = old * 6364136223846793005ULL + state_.increment;
  const auto xorshifted = static_cast<uint32_t>(((old >> 18u) ^ old) >> 27u);
  const auto rot = static_cast<uint32_t>(old >> 59u);
  return (xorshifted >> rot) | (xorshifted << ((-rot) & 31u));
}

uint64_t Generator::next_u64() {
  const uint64_t hi = next_u32();
  return (hi << 32) | next_u32();
}

double Generator::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Generator::normal() {
  if (state_.has_spare_normal) {
    state_.has_spare_normal = false;
    return state_.spare_normal;
  }
  double u1 = uniform();
  while (u1 <= 0.0) u1 = uniform();
  const double u2 = uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * std::numbers::pi * u2;
  state_.spare_normal = radius * std::sin(angle);
  state_.has_spare_normal = true;
  return radius * std::cos(angle);
}

uint64_t Generator::below(uint64_t n) {
  STRATA_CHECK(n > 0, "Generator::below: the bound must be positive, got 0");
  // Rejection: 2^64 mod n values at the bottom would make r % n favour small results; skip them.
  const uint64_t threshold = (0 - n) % n;
  for (;;) {
    const uint64_t r = next_u64();
    if (r >= threshold) return r % n;
  }
}

Generator& default_generator() {
  static Generator generator;
  return generator;
}

void manual_seed(uint64_t seed) { default_generator().seed(seed); }

}  // namespace strata
