// Seeded random numbers: the same seed gives the same numbers on every platform (PCG32 with our
// own uniform and normal transforms, not the standard library's unspecified distributions).
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>

namespace strata {

class Generator {
 public:
  // Everything needed to continue the sequence exactly (for checkpoints).
  struct State {
    uint64_t state = 0;
    uint64_t increment = 0;
    bool has_spare_normal = false;
    double spare_normal = 0.0;
    bool operator==(const State&) const = default;
  };

  explicit Generator(uint64_t seed = 0x5eed);
  void seed(uint64_t seed);

  uint32_t next_u32();
  uint64_t next_u64();
  double uniform();  // in [0, 1), 53 random bits
  double normal();   // standard normal (Box-Muller)
  // Uniform integer in [0, n) without modulo bias; throws strata::Error for n == 0.
  uint64_t below(uint64_t n);

  State state() const { return state_; }
  void set_state(const State& state) { state_ = state; }

 private:
  State state_;
};

// The process-wide generator used when an op is not given one (dropout, initialisers).
Generator& default_generator();
void manual_seed(uint64_t seed);

}  // namespace strata

#pragma GCC visibility pop
