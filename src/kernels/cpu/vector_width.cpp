// The vector width Strata's own kernels run at (see vector_width.hpp).
#include "kernels/cpu/vector_width.hpp"

#include <cstdlib>
#include <string>

#include "strata/error.hpp"

namespace strata::cpu {
namespace {

int chosen_width() {
  const char* env = std::getenv("STRATA_CPU_ISA");
  const std::string isa = env != nullptr ? env : "";
  STRATA_CHECK(isa.empty() || isa == "avx2" || isa == "avx512", "STRATA_CPU_ISA must be avx2 or avx512, got '", isa,
               "' (unset it to use the widest vectors this CPU runs)");
#ifdef STRATA_HAVE_SIMD_W16
  // x86-64-v4 is these AVX-512 subsets on top of x86-64-v3 (which the library needs anyway); named
  // one by one because clang (before 19) knows no "x86-64-v4" in __builtin_cpu_supports.
  const bool v4 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                  __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                  __builtin_cpu_supports("avx512vl");
  if (isa != "avx2" && v4) return 16;
#endif
  return 8;
}

}  // namespace

int vector_width() {
  static const int width = chosen_width();
  return width;
}

}  // namespace strata::cpu
