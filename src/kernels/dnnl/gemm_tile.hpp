// Register-tiled single-thread GEMMs over small operands that stay in L1/L2 (the per-image
// matrices of small_conv.cpp), in vectors of W = 8 floats (one AVX2 register, vec.hpp).
// Row-major; row k of B starts at B + b_rows[k], so B can be a regular matrix (b_rows[k] = k ldb)
// or rows shifted through one image (the taps of a convolution).
//
//   gemm_nn:  C[M, N]  = init + A[M, K] * B[K, N]    init: 0, or bias[m] per row; N % W == 0
//   gemm_nn_add: C[c_rows[m] + n] += (A[M, K] * B[K, N])[m, n]   (rows anywhere, overlapping too)
//   gemm_nt:  C[M, N] += A[M, K] * B[N, K]^T, C in vectors of 8 partial sums; K % W == 0
//
// The vectors are GCC vector extensions, so the compiler keeps the accumulator tile in registers
// and fuses the multiply-adds. 16-float AVX-512 vectors were tried on the Zen 4
// development machine, whose AVX-512 units are double-pumped 256-bit ones: 112 against 105
// GFLOP/s per core for the nn tile, not worth a second instruction set and a run-time switch.
#pragma once

#include <cstdint>

#include "kernels/dnnl/vec.hpp"

namespace strata::dnnl_backend::gemm_tile {

using simd::broadcast;
using simd::lane_sum;
using simd::load;
using simd::store;
using simd::Vec;
using simd::W;

// ---- gemm_nn: tiles of up to 6 rows x 2W columns, each accumulated over all of K in registers ----
// (6 x 2 accumulators + 2 B vectors + 1 broadcast: 15 of AVX2's 16 registers.)
// Row i of the tile goes to C + i ldc (stored), or with kAdd to C + c_rows[i] (added to what is
// there, row after row, so rows may overlap in memory).

constexpr int kNnRows = 6;

template <int MR, int NV, bool kAdd>
inline void nn_tile(int64_t K, const float* A, int64_t lda, const float* B, const int64_t* b_rows, float* C,
                    int64_t ldc, const int64_t* c_rows, const float* bias) {
  Vec acc[MR][NV];
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[i][v] = broadcast(bias ? bias[i] : 0.f);
  for (int64_t k = 0; k < K; ++k) {
    const float* b = B + b_rows[k];
    Vec bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = load(b + v * W);
#pragma GCC unroll 6
    for (int i = 0; i < MR; ++i) {
      const Vec a = broadcast(A[i * lda + k]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[i][v] += a * bv[v];
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < MR; ++i) {
    float* c = kAdd ? C + c_rows[i] : C + i * ldc;
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) store(c + v * W, kAdd ? load(c + v * W) + acc[i][v] : acc[i][v]);
  }
}

// Tiles of 2W columns, and one of W where N % 2W == W.
template <int MR, bool kAdd>
inline void nn_rows(int64_t N, int64_t K, const float* A, int64_t lda, const float* B, const int64_t* b_rows,
                    float* C, int64_t ldc, const int64_t* c_rows, const float* bias) {
  int64_t n = 0;
  for (; n + 2 * W <= N; n += 2 * W) nn_tile<MR, 2, kAdd>(K, A, lda, B + n, b_rows, C + n, ldc, c_rows, bias);
  if (n < N) nn_tile<MR, 1, kAdd>(K, A, lda, B + n, b_rows, C + n, ldc, c_rows, bias);
}

template <bool kAdd>
inline void nn_blocks(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                      const int64_t* b_rows, float* C, int64_t ldc, const int64_t* c_rows, const float* bias) {
  int64_t m = 0;
  auto rows_at = [&](int64_t r) { return kAdd ? c_rows + r : nullptr; };
  auto out_at = [&](int64_t r) { return kAdd ? C : C + r * ldc; };
  for (; m + kNnRows <= M; m += kNnRows)
    nn_rows<kNnRows, kAdd>(N, K, A + m * lda, lda, B, b_rows, out_at(m), ldc, rows_at(m), bias ? bias + m : nullptr);
  const float* a = A + m * lda;
  float* c = out_at(m);
  const int64_t* cr = rows_at(m);
  const float* bm = bias ? bias + m : nullptr;
  switch (M - m) {
    case 5: nn_rows<5, kAdd>(N, K, a, lda, B, b_rows, c, ldc, cr, bm); break;
    case 4: nn_rows<4, kAdd>(N, K, a, lda, B, b_rows, c, ldc, cr, bm); break;
    case 3: nn_rows<3, kAdd>(N, K, a, lda, B, b_rows, c, ldc, cr, bm); break;
    case 2: nn_rows<2, kAdd>(N, K, a, lda, B, b_rows, c, ldc, cr, bm); break;
    case 1: nn_rows<1, kAdd>(N, K, a, lda, B, b_rows, c, ldc, cr, bm); break;
    default: break;
  }
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

// ---- gemm_nt: tiles of up to 4 rows of A x 3 rows of B, each pair a dot product over K whose 8
// lane-wise partial sums are added to a vector of C: the lanes are summed once by the caller after
// every image has been added, not per tile ----

constexpr int kNtRows = 4, kNtCols = 3;  // 12 accumulators + 3 B vectors + 1 A vector

template <int MR, int NR>
inline void nt_tile(int64_t K, const float* A, int64_t lda, const float* B, const int64_t* b_rows, Vec* C,
                    int64_t ldc) {
  Vec acc[MR][NR];
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) acc[i][j] = Vec{};
  const float* b_row[NR];
#pragma GCC unroll 3
  for (int j = 0; j < NR; ++j) b_row[j] = B + b_rows[j];
  for (int64_t k = 0; k < K; k += W) {
    Vec b[NR];
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) b[j] = load(b_row[j] + k);
#pragma GCC unroll 4
    for (int i = 0; i < MR; ++i) {
      const Vec a = load(A + i * lda + k);
#pragma GCC unroll 3
      for (int j = 0; j < NR; ++j) acc[i][j] += a * b[j];
    }
  }
#pragma GCC unroll 4
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 3
    for (int j = 0; j < NR; ++j) C[i * ldc + j] += acc[i][j];
}

template <int MR>
inline void nt_rows(int64_t N, int64_t K, const float* A, int64_t lda, const float* B, const int64_t* b_rows, Vec* C,
                    int64_t ldc) {
  int64_t n = 0;
  for (; n + kNtCols <= N; n += kNtCols) nt_tile<MR, kNtCols>(K, A, lda, B, b_rows + n, C + n, ldc);
  if (N - n == 2) nt_tile<MR, 2>(K, A, lda, B, b_rows + n, C + n, ldc);
  if (N - n == 1) nt_tile<MR, 1>(K, A, lda, B, b_rows + n, C + n, ldc);
}

// C[M, N] (vectors of lane-wise partial sums) += A[M, K] * B[N, K]^T.
inline void gemm_nt(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B,
                    const int64_t* b_rows, Vec* C, int64_t ldc) {
  int64_t m = 0;
  for (; m + kNtRows <= M; m += kNtRows) nt_rows<kNtRows>(N, K, A + m * lda, lda, B, b_rows, C + m * ldc, ldc);
  switch (M - m) {
    case 3: nt_rows<3>(N, K, A + m * lda, lda, B, b_rows, C + m * ldc, ldc); break;
    case 2: nt_rows<2>(N, K, A + m * lda, lda, B, b_rows, C + m * ldc, ldc); break;
    case 1: nt_rows<1>(N, K, A + m * lda, lda, B, b_rows, C + m * ldc, ldc); break;
    default: break;
  }
}

}  // namespace strata::dnnl_backend::gemm_tile
