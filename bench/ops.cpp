// Per-op benchmarks of the CPU kernels (Google Benchmark). Each benchmark first runs the op on
// both the reference and the selected backend and stops with an error if they disagree, then
// times the selected backend's kernel alone. Counters: GFLOP/s for convolutions and linear
// layers (2 x multiply-accumulates of the direct algorithm, also when oneDNN runs Winograd), GB/s
// (bytes read + written once) for memory-bound ops; convolutions also report the FMA peak
// measured around their timed loop ("peak", GFLOP/s) and their share of it ("of_peak").
//   bench_ops --benchmark_filter=conv   (STRATA_BACKEND=ref to time the reference kernels)
#include <benchmark/benchmark.h>

#include <cmath>

#include "core/dispatch.hpp"
#include "peak_kernel.hpp"
#include "core/layout.hpp"
#include "ops/batchnorm.hpp"
#include "ops/conv.hpp"
#include "ops/pool.hpp"
#include "relative_error.hpp"
#include "strata/strata.hpp"

using namespace strata;

namespace {

Tensor random_input(const Shape& shape, uint64_t seed) {
  Generator gen(seed);
  return to_layout(uniform(shape, -1.0, 1.0, gen), blockable(shape) ? Layout::Blocked16 : Layout::Strided);
}

// Runs `op` on the reference and on the current backend with a batch-2 version of the inputs and
// reports an error through `state` when they differ. Returns false on disagreement.
template <class Op>
bool validate(benchmark::State& state, Op&& op) {
  Tensor fast = op(2);
  Tensor ref;
  {
    BackendGuard guard(Backend::Ref);
    ref = op(2);
  }
  const double err = bench::max_relative_error(fast, ref);
  if (err > 1e-3) {
    state.SkipWithError(("disagrees with the reference kernel: relative error " + std::to_string(err)).c_str());
    return false;
  }
  return true;
}

// ---- Convolution ----

// Forward: the forward of a training step (the kernels that keep what backward needs); Inference:
// a forward whose gradient nobody wants (ConvGeom::inference, which kernels such as the
// few-positions convolution take).
enum class Pass { Forward, Inference, BackwardData, BackwardWeight };

void conv_padded(benchmark::State& state, int64_t batch, int64_t cin, int64_t cout, int64_t size, int64_t k,
                 int64_t stride, int64_t pad, Pass pass) {
  auto geom = [&](int64_t n) {
    ConvGeom g = ConvGeom::make("conv2d", 2, {n, cin, size, size}, {cout, cin, k, k}, nullptr,
                                {.stride = stride, .padding = pad});
    g.inference = pass == Pass::Inference;
    return g;
  };
  auto run = [&](const ConvGeom& g, const Tensor& x, const Tensor& w, const Tensor& gy) {
    const ConvKernels& kernels = select_kernels<ConvKernels>("conv2d", Device::cpu(), [&](const ConvKernels& t) {
      return t.supports(g, DType::F32);
    });
    if (pass == Pass::Forward || pass == Pass::Inference) return kernels.forward(g, x, w, Tensor(), Tensor()).y;
    if (pass == Pass::BackwardData) return kernels.backward(g, {gy, {}, {}, w, true, false, false, false}).grad_x;
    return kernels.backward(g, {gy, {}, x, {}, false, true, false, false}).grad_weight;
  };
  NoGradGuard no_grad;
  // Weights in PyTorch's layout, as a model holds them (activations are blocked).
  Generator weight_gen(2);
  const Tensor w = uniform({cout, cin, k, k}, -1.0, 1.0, weight_gen);
  if (!validate(state, [&](int64_t n) {
        const ConvGeom g = geom(n);
        return run(g, random_input(g.x_shape(), 1), w, random_input(g.y_shape(), 3));
      }))
    return;
  const ConvGeom g = geom(batch);
  const Tensor x = random_input(g.x_shape(), 1), gy = random_input(g.y_shape(), 3);
  // The machine's FMA peak right before and after the timed loop (about 20 ms each): "of_peak"
  // compares the convolution with the peak of the same moment.
  const double peak_before = strata_bench::measure_fp32_peak(1e9, 3);
  const double start = strata_bench::now();
  for (auto _ : state) benchmark::DoNotOptimize(run(g, x, w, gy));
  const double seconds = strata_bench::now() - start;
  const double peak = 0.5 * (peak_before + strata_bench::measure_fp32_peak(1e9, 3));
  const double gflops = 2.0 * static_cast<double>(g.macs()) * 1e-9;
  state.counters["GFLOP/s"] = benchmark::Counter(gflops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak"] = peak;
  state.counters["of_peak"] = gflops * static_cast<double>(state.iterations()) / seconds / peak;
}

// Padding k/2 (the output keeps the input's size at stride 1).
void conv(benchmark::State& state, int64_t batch, int64_t cin, int64_t cout, int64_t size, int64_t k, int64_t stride,
          Pass pass) {
  conv_padded(state, batch, cin, cout, size, k, stride, k / 2, pass);
}

// ResNet-18 at 96x96, batch 128: the 3x3 convolutions of stages 2-5, the 1x1 shortcuts.
#define CONV_CASES(pass, name)                                                                  \
  BENCHMARK_CAPTURE(conv, name##_3x3_64x24, 128, 64, 64, 24, 3, 1, pass)->Unit(benchmark::kMillisecond);    \
  BENCHMARK_CAPTURE(conv, name##_3x3_128x12, 128, 128, 128, 12, 3, 1, pass)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(conv, name##_3x3_256x6, 128, 256, 256, 6, 3, 1, pass)->Unit(benchmark::kMillisecond);   \
  BENCHMARK_CAPTURE(conv, name##_3x3_512x3, 128, 512, 512, 3, 3, 1, pass)->Unit(benchmark::kMillisecond);   \
  BENCHMARK_CAPTURE(conv, name##_1x1_64x56, 32, 64, 64, 56, 1, 1, pass)->Unit(benchmark::kMillisecond);     \
  BENCHMARK_CAPTURE(conv, name##_1x1_s2_128to256x12, 128, 128, 256, 12, 1, 2, pass)->Unit(benchmark::kMillisecond);
CONV_CASES(Pass::Forward, fwd)
CONV_CASES(Pass::BackwardData, bwd_data)
CONV_CASES(Pass::BackwardWeight, bwd_weight)

// Batch 1, the forward of a training step (oneDNN's direct kernel) against inference's: ResNet-18
// at 96x96's stages (24x24 and 12x12 maps: Winograd F(4x4, 3x3), kernels/cpu/winograd_conv.hpp;
// 6x6 and 3x3: few positions) and VGG-11's 256-channel 56x56 layer (Winograd).
#define BATCH1_CASES(pass, name)                                                                   \
  BENCHMARK_CAPTURE(conv, name##_b1_3x3_256x56, 1, 256, 256, 56, 3, 1, pass)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(conv, name##_b1_3x3_64x24, 1, 64, 64, 24, 3, 1, pass)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(conv, name##_b1_3x3_128x12, 1, 128, 128, 12, 3, 1, pass)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(conv, name##_b1_3x3_256x6, 1, 256, 256, 6, 3, 1, pass)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(conv, name##_b1_3x3_512x3, 1, 512, 512, 3, 3, 1, pass)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(conv, name##_b1_3x3_s2_256to512x6, 1, 256, 512, 6, 3, 2, pass)->Unit(benchmark::kMillisecond);
BATCH1_CASES(Pass::Forward, fwd)
BATCH1_CASES(Pass::Inference, infer)

// NiN's and AlexNet's 5x5 layer (96 -> 256 channels at 26x26, padding 2), batch 1 and 64: the
// forward of a training step (oneDNN's direct kernel) against inference's (Winograd F(2x2, 5x5),
// kernels/cpu/winograd_conv.hpp).
#define NIN_5X5_CASES(pass, name)                                                                  \
  BENCHMARK_CAPTURE(conv, name##_b1_5x5_96to256x26, 1, 96, 256, 26, 5, 1, pass)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(conv, name##_b64_5x5_96to256x26, 64, 96, 256, 26, 5, 1, pass)->Unit(benchmark::kMillisecond);
NIN_5X5_CASES(Pass::Forward, fwd)
NIN_5X5_CASES(Pass::Inference, infer)

// GoogLeNet's largest 3x3 layer (64 -> 192 channels at 24x24), batch 64: the forward of a training
// step (oneDNN's direct kernel) against inference's (Winograd F(4x4, 3x3),
// kernels/cpu/winograd_conv.hpp).
#define GOOGLENET_3X3_CASES(pass, name) \
  BENCHMARK_CAPTURE(conv, name##_b64_3x3_64to192x24, 64, 64, 192, 24, 3, 1, pass)->Unit(benchmark::kMillisecond);
GOOGLENET_3X3_CASES(Pass::Forward, fwd)
GOOGLENET_3X3_CASES(Pass::Inference, infer)

// LeNet's two convolutions at batch 256 (5x5; 1->6 channels at 28x28 padded 2, 6->16 at 14x14).
#define LENET_CASES(pass, name)                                                                                   \
  BENCHMARK_CAPTURE(conv_padded, name##_lenet_1to6x28, 256, 1, 6, 28, 5, 1, 2, pass)->Unit(benchmark::kMillisecond); \
  BENCHMARK_CAPTURE(conv_padded, name##_lenet_6to16x14, 256, 6, 16, 14, 5, 1, 0, pass)->Unit(benchmark::kMillisecond);
LENET_CASES(Pass::Forward, fwd)
LENET_CASES(Pass::BackwardData, bwd_data)
LENET_CASES(Pass::BackwardWeight, bwd_weight)

// ---- Memory-bound ops on 32x64x56x56 (the shape PyTorch's numbers in the issue were taken on) ----

const Shape kActivation{32, 64, 56, 56};

void set_bandwidth(benchmark::State& state, double bytes) {
  state.counters["GB/s"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void max_pool(benchmark::State& state) {
  NoGradGuard no_grad;
  auto op = [](int64_t n) {
    Shape s = kActivation;
    s[0] = n;
    return max_pool2d(random_input(s, 1), {.kernel = 3, .stride = 2, .padding = 1});
  };
  if (!validate(state, op)) return;
  const Tensor x = random_input(kActivation, 1);
  Tensor y;
  for (auto _ : state) benchmark::DoNotOptimize(y = max_pool2d(x, {.kernel = 3, .stride = 2, .padding = 1}));
  set_bandwidth(state, 4.0 * static_cast<double>(x.numel() + y.numel()));
}
BENCHMARK(max_pool)->Unit(benchmark::kMillisecond);

void batch_norm_training(benchmark::State& state) {
  NoGradGuard no_grad;
  const Tensor w = ones({64}), b = zeros({64});
  auto op = [&](int64_t n) {
    Shape s = kActivation;
    s[0] = n;
    Tensor rm = zeros({64}), rv = ones({64});
    return batch_norm(random_input(s, 1), w, b, rm, rv, true);
  };
  if (!validate(state, op)) return;
  const Tensor x = random_input(kActivation, 1);
  Tensor rm = zeros({64}), rv = ones({64});
  for (auto _ : state) benchmark::DoNotOptimize(batch_norm(x, w, b, rm, rv, true));
  // Statistics pass reads x; normalisation pass reads x and writes y.
  set_bandwidth(state, 4.0 * 3 * static_cast<double>(x.numel()));
}
BENCHMARK(batch_norm_training)->Unit(benchmark::kMillisecond);

void batch_norm_backward(benchmark::State& state) {
  NoGradGuard no_grad;
  auto run = [](const Tensor& x, const Tensor& gy) {
    const BatchNormGeom g = BatchNormGeom::make(x.shape(), nullptr, nullptr, nullptr, nullptr, true, 0.1, 1e-5);
    const BatchNormKernels& k = select_kernels<BatchNormKernels>("batch_norm", Device::cpu(), [&](const BatchNormKernels& t) {
      return t.supports(g, DType::F32);
    });
    const Tensor w = ones({x.shape()[1]});
    const BatchNormForward f = k.forward(g, x, w, Tensor(), Tensor(), Tensor(), Tensor());
    return k.backward(g, {gy, {}, x, w, f.saved_mean, f.saved_invstd, true, true, true, false}).grad_x;
  };
  if (!validate(state, [&](int64_t n) {
        Shape s = kActivation;
        s[0] = n;
        return run(random_input(s, 1), random_input(s, 2));
      }))
    return;
  const Tensor x = random_input(kActivation, 1), gy = random_input(kActivation, 2);
  const BatchNormGeom g = BatchNormGeom::make(x.shape(), nullptr, nullptr, nullptr, nullptr, true, 0.1, 1e-5);
  const BatchNormKernels& k = select_kernels<BatchNormKernels>("batch_norm", Device::cpu(), [&](const BatchNormKernels& t) {
    return t.supports(g, DType::F32);
  });
  const Tensor w = ones({64});
  const BatchNormForward f = k.forward(g, x, w, Tensor(), Tensor(), Tensor(), Tensor());
  const BatchNormBackwardArgs args{gy, {}, x, w, f.saved_mean, f.saved_invstd, true, true, true, false};
  for (auto _ : state) benchmark::DoNotOptimize(k.backward(g, args));
  // Reduction pass reads x and gy; gradient pass reads x and gy and writes gx.
  set_bandwidth(state, 4.0 * 5 * static_cast<double>(x.numel()));
}
BENCHMARK(batch_norm_backward)->Unit(benchmark::kMillisecond);

void relu_forward(benchmark::State& state) {
  NoGradGuard no_grad;
  if (!validate(state, [](int64_t n) {
        Shape s = kActivation;
        s[0] = n;
        return relu(random_input(s, 1));
      }))
    return;
  const Tensor x = random_input(kActivation, 1);
  for (auto _ : state) benchmark::DoNotOptimize(relu(x));
  set_bandwidth(state, 4.0 * 2 * static_cast<double>(x.numel()));
}
BENCHMARK(relu_forward)->Unit(benchmark::kMillisecond);

void residual_add(benchmark::State& state) {
  NoGradGuard no_grad;
  if (!validate(state, [](int64_t n) {
        Shape s = kActivation;
        s[0] = n;
        return random_input(s, 1) + random_input(s, 2);
      }))
    return;
  const Tensor a = random_input(kActivation, 1), b = random_input(kActivation, 2);
  for (auto _ : state) benchmark::DoNotOptimize(a + b);
  set_bandwidth(state, 4.0 * 3 * static_cast<double>(a.numel()));
}
BENCHMARK(residual_add)->Unit(benchmark::kMillisecond);

void linear_forward(benchmark::State& state) {
  NoGradGuard no_grad;
  const Tensor w = random_input({4096, 6400}, 2);
  if (!validate(state, [&](int64_t n) { return linear(random_input({n, 6400}, 1), w); })) return;
  const Tensor x = random_input({128, 6400}, 1);
  for (auto _ : state) benchmark::DoNotOptimize(linear(x, w));
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * 128 * 6400 * 4096 * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(linear_forward)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
