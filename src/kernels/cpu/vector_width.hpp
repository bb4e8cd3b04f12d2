// Which build of Strata's own vector kernels runs: small_conv.cpp, few_positions_conv.cpp and
// winograd_conv.cpp are compiled once with AVX2 vectors (8 floats, every x86-64-v3 machine)
// and, where the compiler targets x86-64, once more with AVX-512 ones (16 floats, x86-64-v4);
// their tables call the widest this CPU runs, or the one STRATA_CPU_ISA names (avx2 or avx512:
// for comparing them).
#pragma once

namespace strata::cpu {

// The floats per vector of the build that runs: 8 or 16 (decided once per process).
int vector_width();

}  // namespace strata::cpu
