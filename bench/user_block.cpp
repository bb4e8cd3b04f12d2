// A block a user writes gets the zoo's speed: one training step (forward, backward of the sum)
// of ResNet's residual block as the zoo defines it (models::Residual) and as a user would write
// it in their own code (UserResidual below: conv, batch norm and ReLU modules called in the
// book's order), both compiled, and the user's block run eagerly. Every benchmark first checks
// that the user's block, given the zoo block's parameters, computes the zoo block's output.
//   bench_user_block --benchmark_min_time=1 --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true
// (interleaved: run in a fixed order, whichever runs last has looked faster on a shared machine)
#include <benchmark/benchmark.h>


#include "relative_error.hpp"
#include "strata/strata.hpp"

using namespace strata;

namespace {

// relu(bn2(conv2(relu(bn1(conv1(x))))) + x): written against the public API only, parameters
// named as models::Residual's so that one state_dict loads into both.
class UserResidual : public nn::Module {
 public:
  explicit UserResidual(int64_t channels) : Module("UserResidual") {
    conv1 = register_module("conv1", std::make_shared<nn::Conv2d>(channels, channels, 3, ConvOptions{.padding = 1}));
    conv2 = register_module("conv2", std::make_shared<nn::Conv2d>(channels, channels, 3, ConvOptions{.padding = 1}));
    bn1 = register_module("bn1", std::make_shared<nn::BatchNorm2d>(channels));
    bn2 = register_module("bn2", std::make_shared<nn::BatchNorm2d>(channels));
  }
  Tensor forward(const Tensor& x) override {
    const Tensor y = (*bn2)((*conv2)(relu((*bn1)((*conv1)(x)))));
    return relu(y + x);
  }

 private:
  std::shared_ptr<nn::Conv2d> conv1, conv2;
  std::shared_ptr<nn::BatchNorm2d> bn1, bn2;
};

// ResNet-18's first stage at the book's 96x96 input: 64 channels at 24x24, batch 128.
constexpr int64_t kChannels = 64, kSize = 24, kBatch = 128;

enum class Block { Zoo, User };

std::shared_ptr<nn::Module> make_block(Block kind) {
  if (kind == Block::Zoo) return std::make_shared<models::Residual>(2, kChannels, kChannels);
  return std::make_shared<UserResidual>(kChannels);
}

Tensor input(int64_t batch) {
  Generator gen(7);
  return uniform({batch, kChannels, kSize, kSize}, -1.0, 1.0, gen);
}

void training_step(benchmark::State& state, Block kind, bool compiled) {
  const auto zoo = make_block(Block::Zoo);
  const auto block = make_block(kind);
  block->load_state_dict(zoo->state_dict());
  if (compiled) block->hybridize();
  {
    const Tensor x = input(4);
    const double diff = bench::max_relative_error((*block)(x), (*zoo)(x));
    if (diff > 1e-5) {
      state.SkipWithError(("differs from the zoo's block: relative difference " + std::to_string(diff)).c_str());
      return;
    }
  }
  const Tensor x = input(kBatch);
  const auto step = [&] {
    block->zero_grad();
    (*block)(x).sum().backward();
  };
  step();  // warm-up: compiles the graph for this batch and creates oneDNN's primitives
  step();
  for (auto _ : state) step();
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(kBatch), benchmark::Counter::kIsIterationInvariantRate);
}

BENCHMARK_CAPTURE(training_step, zoo_residual_compiled, Block::Zoo, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(training_step, user_residual_compiled, Block::User, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(training_step, user_residual_eager, Block::User, false)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
