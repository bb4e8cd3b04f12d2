#include "core/dispatch.hpp"

#include <omp.h>

#include <cstdlib>
#include <string>

namespace strata {
namespace {

Backend initial_cpu_backend() {
  const char* env = std::getenv("STRATA_BACKEND");
  if (env != nullptr && std::string(env) == "ref") return Backend::Ref;
  return backend_available(Backend::Dnnl) ? Backend::Dnnl : Backend::Ref;
}

Backend& current_cpu_backend() {
  static Backend backend = initial_cpu_backend();
  return backend;
}

}  // namespace

const char* backend_name(Backend backend) {
  switch (backend) {
    case Backend::Ref:
      return "ref";
    case Backend::Dnnl:
      return "dnnl";
    case Backend::Cuda:
      return "cuda";
  }
  return "?";
}

bool backend_available(Backend backend) {
  switch (backend) {
    case Backend::Ref:
      return true;
    case Backend::Dnnl:
#ifdef STRATA_WITH_DNNL
      return true;
#else
      return false;
#endif
    case Backend::Cuda:
      return false;
  }
  return false;
}

Backend cpu_backend() { return current_cpu_backend(); }

void set_num_threads(int threads) {
  STRATA_CHECK(threads >= 1 && threads <= 1024, "set_num_threads: expected 1 to 1024 threads, got ", threads);
  omp_set_num_threads(threads);
}

int num_threads() { return omp_get_max_threads(); }

namespace {
ConvAlgorithm& current_conv_algorithm() {
  static ConvAlgorithm algorithm = [] {
    const char* env = std::getenv("STRATA_CONV_ALGO");
    return env != nullptr && std::string(env) == "direct" ? ConvAlgorithm::Direct : ConvAlgorithm::Auto;
  }();
  return algorithm;
}
}  // namespace

ConvAlgorithm conv_algorithm() { return current_conv_algorithm(); }
void set_conv_algorithm(ConvAlgorithm algorithm) { current_conv_algorithm() = algorithm; }

namespace {
thread_local bool weight_caching = true;
}  // namespace

bool weight_caching_enabled() { return weight_caching; }
NoWeightCachingGuard::NoWeightCachingGuard() : previous_(weight_caching) { weight_caching = false; }
NoWeightCachingGuard::~NoWeightCachingGuard() { weight_caching = previous_; }

void set_cpu_backend(Backend backend) {
  STRATA_CHECK(backend != Backend::Cuda, "set_cpu_backend: cuda is not a CPU backend");
  STRATA_CHECK(backend_available(backend), "set_cpu_backend: backend ", backend_name(backend),
               " is not built into this library");
  current_cpu_backend() = backend;
}

}  // namespace strata
