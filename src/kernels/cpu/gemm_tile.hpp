// Register-tiled single-thread GEMMs over small operands that stay in L1/L2 (the per-image
// matrices of small_conv.cpp), in vectors of W = 8 or 16 floats (an AVX2 or AVX-512 register,
// vec.hpp); the tile shapes fill that ISA's 16 or 32 vector registers.
// Row-major; row k of B starts at B + b_rows[k], so B can be a regular matrix (b_rows[k] = k ldb)
// or rows shifted through one image (the taps of a convolution).
//
//   gemm_nn:  C[M, N]  = init + A[M, K] * B[K, N]    init: 0, or bias[m] per row; N % W == 0
//   gemm_nn_add: C[c_rows[m] + n] += (A[M, K] * B[K, N])[m, n]   (rows anywhere, overlapping too)
//   gemm_nt:  C[M, N] += A[M, K] * B[N, K]^T, C in vectors of W partial sums; K % W == 0
//   gemm_nv:  C[M, W] += A[M, K] * B[K, W], rows of A anywhere (A + a_rows[m]), B and C as vectors
//
// The vectors are GCC vector extensions, so the compiler keeps the accumulator tile in registers
// and fuses the multiply-adds. (On Zen 4, whose AVX-512 units are double-pumped 256-bit ones, W = 16
// gave 112 against 105 GFLOP/s per core for the nn tile; on Intel cores with two 512-bit FMA
// units it doubles the peak.)
#pragma once

#include <cstdint>
#include <utility>

#include "kernels/cpu/vec.hpp"

namespace strata::cpu::gemm_tile {
inline namespace STRATA_SIMD_NAMESPACE {

using simd::broadcast;
using simd::lane_sum;
using simd::load;
using simd::store;
using simd::Vec;
using simd::W;

// f(std::integral_constant<int, n>{}) for a run-time n in [1, kMax]: the tile shapes of the edges.
template <int kMax, class F>
inline void with_count(int64_t n, F&& f) {
  [&]<int... I>(std::integer_sequence<int, I...>) {
    ((n == I + 1 ? (f(std::integral_constant<int, I + 1>{}), 0) : 0), ...);
  }(std::make_integer_sequence<int, kMax>{});
}

// ---- gemm_nn: tiles of up to 6 rows x kNnVecs W columns, each accumulated over all of K in registers ----
// (6 x kNnVecs accumulators + kNnVecs B vectors + 1 broadcast: 15 of AVX2's 16 registers, 29 of
// AVX-512's 32.)
// Row i of the tile goes to C + i ldc (stored), or with kAdd to C + c_rows[i] (added to what is
// there, row after row, so rows may overlap in memory).

constexpr int kNnRows = 6;
constexpr int kNnVecs = W == 8 ? 2 : 4;

template <int MR, int NV, bool kAdd>
inline void nn_tile(int64_t K, const float* A, int64_t lda, const float* B, const int64_t* b_rows, float* C,
                    int64_t ldc, const int64_t* c_rows, const float* bias) {
  Vec acc[MR][NV];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = broadcast(bias ? bias[i] : 0.f);
  for (int64_t k = 0; k < K; ++k) {
    const float* b = B + b_rows[k];
    Vec bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = load(b + v * W);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const Vec a = broadcast(A[i * lda + k]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] += a * bv[v];
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* c = kAdd ? C + c_rows[i] : C + i * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) store(c + v * W, kAdd ? load(c + v * W) + acc[i][v] : acc[i][v]);
  }
}

// Tiles of kNnVecs W columns, then one of the N % (kNnVecs W) / W vectors left.
template <int MR, bool kAdd>
inline void nn_rows(int64_t N, int64_t K, const float* A, int64_t lda, const float* B, const int64_t* b_rows,
                    float* C, int64_t ldc, const int64_t* c_rows, const float* bias) {
  constexpr int64_t kCols = kNnVecs * W;
  int64_t n = 0;
  for (; n + kCols <= N; n += kCols) nn_tile<MR, kNnVecs, kAdd>(K, A, lda, B + n, b_rows, C + n, ldc, c_rows, bias);
  with_count<kNnVecs - 1>((N - n) / W, [&](auto vecs) {
    nn_tile<MR, vecs.value, kAdd>(K, A, lda, B + n, b_rows, C + n, ldc, c_rows, bias);
  });
}

template <bool kAdd>
inline void nn_blocks(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                      const int64_t* b_rows, float* C, int64_t ldc, const int64_t* c_rows, const float* bias) {
  int64_t m = 0;
  auto rows_at = [&](int64_t r) { return kAdd ? c_rows + r : nullptr; };
  auto out_at = [&](int64_t r) { return kAdd ? C : C + r * ldc; };
  for (; m + kNnRows <= M; m += kNnRows)
    nn_rows<kNnRows, kAdd>(N, K, A + m * lda, lda, B, b_rows, out_at(m), ldc, rows_at(m), bias ? bias + m : nullptr);
  with_count<kNnRows - 1>(M - m, [&](auto rows) {
    nn_rows<rows.value, kAdd>(N, K, A + m * lda, lda, B, b_rows, out_at(m), ldc, rows_at(m), bias ? bias + m : nullptr);
  });
}

inline void gemm_nn(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                    const int64_t* b_rows, float* C, int64_t ldc, const float* bias) {
  nn_blocks<false>(M, N, K, A, lda, B, b_rows, C, ldc, nullptr, bias);
}

// C[c_rows[m] + n] += (A[M, K] * B[K, N])[m, n], rows in order m = 0, 1, ... (they may overlap).
inline void gemm_nn_add(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                        const int64_t* b_rows, float* C, const int64_t* c_rows) {
  nn_blocks<true>(M, N, K, A, lda, B, b_rows, C, 0, c_rows, nullptr);
}

// ---- gemm_nt: tiles of up to kNtRows rows of A x kNtCols rows of B, each pair a dot product over
// K whose W lane-wise partial sums are added to a vector of C: the lanes are summed once by the
// caller after every image has been added, not per tile ----

// AVX2: 4 x 3 accumulators + 3 B vectors + 1 A vector (16 registers); AVX-512: 6 x 4 + 4 + 1 (29).
constexpr int kNtRows = W == 8 ? 4 : 6, kNtCols = W == 8 ? 3 : 4;

template <int MR, int NR>
inline void nt_tile(int64_t K, const float* A, int64_t lda, const float* B, const int64_t* b_rows, Vec* C,
                    int64_t ldc) {
  Vec acc[MR][NR];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) acc[i][j] = Vec{};
  const float* b_row[NR];
#pragma GCC unroll 4
  for (int j = 0; j < NR; ++j) b_row[j] = B + b_rows[j];
  for (int64_t k = 0; k < K; k += W) {
    Vec b[NR];
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) b[j] = load(b_row[j] + k);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const Vec a = load(A + i * lda + k);
#pragma GCC unroll 4
      for (int j = 0; j < NR; ++j) acc[i][j] += a * b[j];
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NR; ++j) C[i * ldc + j] += acc[i][j];
}

template <int MR>
inline void nt_rows(int64_t N, int64_t K, const float* A, int64_t lda, const float* B, const int64_t* b_rows, Vec* C,
                    int64_t ldc) {
  int64_t n = 0;
  for (; n + kNtCols <= N; n += kNtCols) nt_tile<MR, kNtCols>(K, A, lda, B, b_rows + n, C + n, ldc);
  with_count<kNtCols - 1>(N - n, [&](auto cols) { nt_tile<MR, cols.value>(K, A, lda, B, b_rows + n, C + n, ldc); });
}

// C[M, N] (vectors of lane-wise partial sums) += A[M, K] * B[N, K]^T.
inline void gemm_nt(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                    const int64_t* b_rows, Vec* C, int64_t ldc) {
  int64_t m = 0;
  for (; m + kNtRows <= M; m += kNtRows) nt_rows<kNtRows>(N, K, A + m * lda, lda, B, b_rows, C + m * ldc, ldc);
  with_count<kNtRows - 1>(M - m, [&](auto rows) {
    nt_rows<rows.value>(N, K, A + m * lda, lda, B, b_rows, C + m * ldc, ldc);
  });
}

// ---- gemm_nv: C[M, W] += A[M, K] * B[K, W] for a B of one vector per row: tiles of kNvRows rows
// of A, each row's W outputs one accumulator, over all of K; every multiply-add takes its A
// element as a broadcast from memory ----

constexpr int kNvRows = W == 8 ? 8 : 12;  // enough independent accumulators for the FMA latency

template <int MR>
inline void nv_tile(int64_t K, const float* A, const int64_t* a_rows, const Vec* B, Vec* C) {
  Vec acc[MR];
  const float* a[MR];
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) {
    acc[i] = Vec{};
    a[i] = A + a_rows[i];
  }
  for (int64_t k = 0; k < K; ++k) {
    const Vec b = B[k];
#pragma GCC unroll 12
    for (int i = 0; i < MR; ++i) acc[i] += broadcast(a[i][k]) * b;
  }
#pragma GCC unroll 12
  for (int i = 0; i < MR; ++i) C[i] += acc[i];
}

// C[m] += sum_k A[a_rows[m] + k] B[k] for m < M, k < K.
inline void gemm_nv(int64_t M, int64_t K, const float* A, const int64_t* a_rows, const Vec* B, Vec* C) {
  int64_t m = 0;
  for (; m + kNvRows <= M; m += kNvRows) nv_tile<kNvRows>(K, A, a_rows + m, B, C + m);
  with_count<kNvRows - 1>(M - m, [&](auto rows) { nv_tile<rows.value>(K, A, a_rows + m, B, C + m); });
}

}  // namespace STRATA_SIMD_NAMESPACE
}  // namespace strata::cpu::gemm_tile
