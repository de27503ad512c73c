// The tensor-core GEMM's tile shapes and block body, shared by the kernel (gemm_tc.cu) and the host replay
// (cuda/test/replay/replay_gemm_test.cpp), which runs this very body per emulated thread.
//
// Y (M, N) = A (M, K) · W^T (+ bias), A the activations in a half type H (row stride lda), W (N, K) weights
// in H as stored in safetensors (row-major, K contiguous), f32 accumulation, output f32 or H. The N
// columns may be split over up to kMaxGemmSegments weight tensors (fused Q/K/V or gate/up): segment s
// covers columns [n_end[s-1], n_end[s]) and has its own weights, optional bias and output; no weight is
// re-laid out. Widths and strides may be odd (K and lda are multiples of 8: rows move in 16-byte chunks).
//
// Block tile BM x BN x 64, WARPS_M x WARPS_N warps, each warp WM x WN = MI x NI mma.m16n8k16 tiles.
// Tiles move global -> shared with 16-byte cp.async (zero-filled past the matrix edges) through a
// STAGES-deep pipeline into 128-byte rows with an XOR swizzle (simt.h: swizzled), and come out with
// ldmatrix.x4; both operands are K-major ("row.col").
#pragma once

#include <cstddef>
#include <type_traits>

#include "simt.h"

namespace tidepool::cuda::tc {

constexpr int kMaxGemmSegments = 3;

struct GemmSegment {
  const void* w = nullptr;     // (n, K) weights in H, row-major
  const void* bias = nullptr;  // (n) or null
  Elem bias_type = Elem::F32;
  int n_end = 0;      // end of this segment's columns in the fused N (exclusive)
  void* y = nullptr;  // (M, ldy): this segment's columns [0, n) of each row
  int ldy = 0;        // elements
};

struct GemmArgs {
  const void* a = nullptr;  // (M, lda) in H
  int lda = 0;              // elements
  int M = 0, N = 0, K = 0;  // N == seg[segments - 1].n_end
  int segments = 1;
  GemmSegment seg[kMaxGemmSegments];
};

template <int BM_, int BN_, int WARPS_M_, int WARPS_N_, int STAGES_>
struct GemmTile {
  static constexpr int BM = BM_, BN = BN_, BK = 64, WARPS_M = WARPS_M_, WARPS_N = WARPS_N_, STAGES = STAGES_;
  static constexpr int THREADS = 32 * WARPS_M * WARPS_N;
  static constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N;  // warp tile
  static constexpr int MI = WM / 16, NI = WN / 8;             // mma tiles per warp
  static constexpr int ROW_BYTES = BK * 2;                    // one shared row: 8 chunks of 16 bytes
  static constexpr int CHUNKS = BK / 8;
  static constexpr int A_BYTES = BM * ROW_BYTES, B_BYTES = BN * ROW_BYTES;
  static constexpr int STAGE_BYTES = A_BYTES + B_BYTES, SMEM_BYTES = STAGES * STAGE_BYTES;
  static constexpr int A_LOADS = BM * CHUNKS / THREADS, B_LOADS = BN * CHUNKS / THREADS;  // per thread
  static_assert(WM % 16 == 0 && WN % 16 == 0, "B fragments are loaded for two n8 tiles at a time");
  static_assert(BM * CHUNKS % THREADS == 0 && BN * CHUNKS % THREADS == 0, "whole chunks per thread");
  static_assert(ROW_BYTES == 128, "one swizzle period per row");
  static_assert(STAGES >= 2, "a pipeline");
};

// The configurations the launcher picks from (gemm_tc.cu: pick_gemm_tile).
using GemmTileSmall = GemmTile<64, 128, 2, 2, 4>;    // 96 KiB shared; few rows (M <= 64 per tile)
using GemmTileMedium = GemmTile<128, 128, 2, 2, 3>;  // 96 KiB; warp tile 64x64
using GemmTileLarge = GemmTile<128, 256, 2, 4, 3>;   // 144 KiB; warp tile 64x64, 8 warps

TP_HD int gemm_segment_of(const GemmArgs& g, int n) {
  int s = 0;
  if (g.segments > 1 && n >= g.seg[0].n_end) s = 1;
  if (g.segments > 2 && n >= g.seg[1].n_end) s = 2;
  return s;
}
TP_HD int gemm_segment_begin(const GemmArgs& g, int s) { return s == 0 ? 0 : g.seg[s - 1].n_end; }

template <class X>
TP_BODY float load_elem(X& x, const void* p, Elem t, int i) {
  if (t == Elem::F32) return static_cast<const float*>(p)[i];
  const uint16_t bits = static_cast<const uint16_t*>(p)[i];
  return t == Elem::F16 ? x.to_f32(F16{bits}) : x.to_f32(Bf16{bits});
}

// Column `col` of row `row` of the fused output, plus its segment's bias.
template <class H, class OutT, class X>
TP_BODY void gemm_store(X& x, const GemmArgs& g, int row, int col, float v) {
  const int s = gemm_segment_of(g, col), local = col - gemm_segment_begin(g, s);
  const GemmSegment& seg = g.seg[s];
  if (seg.bias) v += load_elem(x, seg.bias, seg.bias_type, local);
  const size_t at = static_cast<size_t>(row) * seg.ldy + local;
  if constexpr (std::is_same_v<OutT, float>) x.st_f32(static_cast<float*>(seg.y) + at, v);
  else x.st_u16(static_cast<uint16_t*>(seg.y) + at, static_cast<uint16_t>(x.template pack<H>(v, 0.0f)));
}

// Columns (col, col + 1): one 8- or 4-byte store when both fall in one segment at an even element index,
// else one store each (odd widths or strides, a segment boundary between them, col + 1 == N).
template <class H, class OutT, class X>
TP_BODY void gemm_store_pair(X& x, const GemmArgs& g, int row, int col, float v0, float v1) {
  const int s = gemm_segment_of(g, col), local = col - gemm_segment_begin(g, s);
  const GemmSegment& seg = g.seg[s];
  const size_t at = static_cast<size_t>(row) * seg.ldy + local;
  if (col + 1 < seg.n_end && at % 2 == 0) {
    if (seg.bias) {
      v0 += load_elem(x, seg.bias, seg.bias_type, local);
      v1 += load_elem(x, seg.bias, seg.bias_type, local + 1);
    }
    if constexpr (std::is_same_v<OutT, float>) x.st_f32x2(static_cast<float*>(seg.y) + at, v0, v1);
    else x.st_u32(static_cast<uint16_t*>(seg.y) + at, x.template pack<H>(v0, v1));
    return;
  }
  gemm_store<H, OutT>(x, g, row, col, v0);
  if (col + 1 < g.N) gemm_store<H, OutT>(x, g, row, col + 1, v1);
}

// k tile kt of the block's A rows [m0, m0 + BM) and W rows [n0, n0 + BN) into `stage`; zeros past the edges.
template <class Cfg, class X>
TP_BODY void gemm_load_tile(X& x, const GemmArgs& g, int m0, int n0, int stage, int kt) {
  const int tid = x.tid(), k0 = kt * Cfg::BK;
  const uint16_t* A = static_cast<const uint16_t*>(g.a);
  const uint32_t sa = stage * Cfg::STAGE_BYTES, sb = sa + Cfg::A_BYTES;
  TP_UNROLL
  for (int i = 0; i < Cfg::A_LOADS; i++) {
    const int chunk = tid + i * Cfg::THREADS, r = chunk / Cfg::CHUNKS, c = chunk % Cfg::CHUNKS;
    const bool ok = m0 + r < g.M && k0 + c * 8 < g.K;
    x.cp_async16(sa + swizzled(r, c, Cfg::ROW_BYTES), ok ? A + static_cast<size_t>(m0 + r) * g.lda + k0 + c * 8 : A,
                 ok);
  }
  TP_UNROLL
  for (int i = 0; i < Cfg::B_LOADS; i++) {
    const int chunk = tid + i * Cfg::THREADS, r = chunk / Cfg::CHUNKS, c = chunk % Cfg::CHUNKS, n = n0 + r;
    const bool ok = n < g.N && k0 + c * 8 < g.K;
    const int s = gemm_segment_of(g, n);
    const uint16_t* w = static_cast<const uint16_t*>(g.seg[s].w);
    x.cp_async16(sb + swizzled(r, c, Cfg::ROW_BYTES),
                 ok ? w + static_cast<size_t>(n - gemm_segment_begin(g, s)) * g.K + k0 + c * 8 : w, ok);
  }
}

// acc += this warp's A rows x B columns of the k tile in `stage`.
template <class Cfg, class H, class X>
TP_BODY void gemm_mma_tile(X& x, int stage, int warp_m, int warp_n, float (&acc)[Cfg::MI][Cfg::NI][4]) {
  const int lane = x.tid() % 32;
  const uint32_t sa = stage * Cfg::STAGE_BYTES, sb = sa + Cfg::A_BYTES;
  TP_UNROLL
  for (int kk = 0; kk < Cfg::BK / 16; kk++) {
    uint32_t a[Cfg::MI][4], b[Cfg::NI][2];
    // A: lanes 0-15 address rows 0-15 at k 0-7, lanes 16-31 the same rows at k 8-15 -> a0..a7.
    TP_UNROLL
    for (int mi = 0; mi < Cfg::MI; mi++)
      x.ldsm_x4(a[mi], sa + swizzled(warp_m * Cfg::WM + mi * 16 + lane % 16, kk * 2 + lane / 16, Cfg::ROW_BYTES));
    // B: matrices (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), (n 8-15, k 8-15) of an n16 pair.
    TP_UNROLL
    for (int p = 0; p < Cfg::NI / 2; p++) {
      uint32_t r[4];
      x.ldsm_x4(r, sb + swizzled(warp_n * Cfg::WN + p * 16 + lane % 8 + (lane / 16) * 8, kk * 2 + (lane / 8) % 2,
                                 Cfg::ROW_BYTES));
      b[2 * p][0] = r[0];
      b[2 * p][1] = r[1];
      b[2 * p + 1][0] = r[2];
      b[2 * p + 1][1] = r[3];
    }
    TP_UNROLL
    for (int mi = 0; mi < Cfg::MI; mi++) TP_UNROLL
    for (int ni = 0; ni < Cfg::NI; ni++) x.template mma<H>(acc[mi][ni], a[mi], b[ni][0], b[ni][1]);
  }
}

// Accumulator c0,c1 is row lane/4, columns 2*(lane%4) + {0,1}; c2,c3 the same columns 8 rows down.
template <class Cfg, class H, class OutT, class X>
TP_BODY void gemm_epilogue(X& x, const GemmArgs& g, int row0, int col0, const float (&acc)[Cfg::MI][Cfg::NI][4]) {
  const int lane = x.tid() % 32;
  TP_UNROLL
  for (int mi = 0; mi < Cfg::MI; mi++) TP_UNROLL
  for (int ni = 0; ni < Cfg::NI; ni++) TP_UNROLL
  for (int half = 0; half < 2; half++) {
    const int row = row0 + mi * 16 + lane / 4 + half * 8, col = col0 + ni * 8 + (lane % 4) * 2;
    if (row < g.M && col < g.N)
      gemm_store_pair<H, OutT>(x, g, row, col, acc[mi][ni][2 * half], acc[mi][ni][2 * half + 1]);
  }
}

// One block's BM x BN output tile; grid (ceil(N / BN), ceil(M / BM)), Cfg::THREADS threads,
// Cfg::SMEM_BYTES of dynamic shared memory. H is Bf16 or F16; OutT float or H.
template <class Cfg, class H, class OutT, class X>
TP_BODY void gemm_block(X& x, const GemmArgs& g) {
  const int warp = x.tid() / 32, warp_m = warp / Cfg::WARPS_N, warp_n = warp % Cfg::WARPS_N;
  const int m0 = x.block_y() * Cfg::BM, n0 = x.block_x() * Cfg::BN;
  const int ktiles = ceil_div(g.K, Cfg::BK);
  float acc[Cfg::MI][Cfg::NI][4];
  TP_UNROLL
  for (int mi = 0; mi < Cfg::MI; mi++) TP_UNROLL
  for (int ni = 0; ni < Cfg::NI; ni++) TP_UNROLL
  for (int j = 0; j < 4; j++) acc[mi][ni][j] = 0.0f;

  TP_UNROLL
  for (int st = 0; st < Cfg::STAGES - 1; st++) {
    if (st < ktiles) gemm_load_tile<Cfg>(x, g, m0, n0, st, st);
    x.cp_commit();
  }
  for (int kt = 0; kt < ktiles; kt++) {
    x.template cp_wait<Cfg::STAGES - 2>();
    x.sync();  // tile kt landed for every thread; stage (kt - 1) % STAGES is no longer read
    const int next = kt + Cfg::STAGES - 1;
    if (next < ktiles) gemm_load_tile<Cfg>(x, g, m0, n0, next % Cfg::STAGES, next);
    x.cp_commit();
    gemm_mma_tile<Cfg, H>(x, kt % Cfg::STAGES, warp_m, warp_n, acc);
  }
  x.template cp_wait<0>();
  gemm_epilogue<Cfg, H, OutT>(x, g, m0 + warp_m * Cfg::WM, n0 + warp_n * Cfg::WN, acc);
}

}  // namespace tidepool::cuda::tc
