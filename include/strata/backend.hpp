// Which kernels run the ops. The reference kernels (plain loops, the specification) are always
// built; the oneDNN backend is the fast CPU path when the library was built with it (the
// default). STRATA_BACKEND=ref in the environment selects the reference kernels at start-up.
#pragma once
#pragma GCC visibility push(default)

#include <cstdint>

namespace strata {

enum class Backend : uint8_t { Ref, Dnnl, Cuda };
inline constexpr int kNumBackends = 3;
const char* backend_name(Backend backend);  // "ref", "dnnl", "cuda"

// The backend CPU ops try first (Ref is always the fallback for what it declines).
Backend cpu_backend();
void set_cpu_backend(Backend backend);
// Whether a backend was compiled into this build.
bool backend_available(Backend backend);

// The threads CPU ops run on (OpenMP's; by default one per core, or OMP_NUM_THREADS). On a machine
// shared with other work, fewer threads than cores, and GOMP_SPINCOUNT=1000 in the environment
// before the program starts (what the strata tool sets), keep a busy machine from slowing every
// op down: idle OpenMP threads otherwise spin for a long time before they yield the core.
void set_num_threads(int threads);  // 1 to 1024
int num_threads();

// How the oneDNN backend computes 3x3 convolutions. Direct: the textbook sum, as PyTorch's CPU
// path does. Auto (the default): oneDNN may choose Winograd's F(4x4, 3x3) algorithm for stride-1
// 3x3 convolutions where it is faster — about half the multiplications, with float32 results that
// differ from the direct sum by roughly 1e-5 relative. STRATA_CONV_ALGO=direct|auto at start-up.
enum class ConvAlgorithm : uint8_t { Direct, Auto };
ConvAlgorithm conv_algorithm();
void set_conv_algorithm(ConvAlgorithm algorithm);

// Whether kernels may keep values they derive from weights for later calls (oneDNN's reordered
// weights, kernels/dnnl/weight_cache.hpp) on this thread: on by default, off for one-off runs whose
// weights the next calls will not use (the eager forward pass that tracing runs, before the
// compiled graph folds batch norms into new weights).
bool weight_caching_enabled();
class NoWeightCachingGuard {
 public:
  NoWeightCachingGuard();
  ~NoWeightCachingGuard();
  NoWeightCachingGuard(const NoWeightCachingGuard&) = delete;
  NoWeightCachingGuard& operator=(const NoWeightCachingGuard&) = delete;

 private:
  bool previous_;
};

// Sets the CPU backend for its scope and restores the previous one.
class BackendGuard {
 public:
  explicit BackendGuard(Backend backend) : previous_(cpu_backend()) { set_cpu_backend(backend); }
  ~BackendGuard() { set_cpu_backend(previous_); }
  BackendGuard(const BackendGuard&) = delete;
  BackendGuard& operator=(const BackendGuard&) = delete;

 private:
  Backend previous_;
};

}  // namespace strata

#pragma GCC visibility pop
