// Flash-attention prefill over the paged KV cache: tile shapes and block body, shared by the kernel
// (flash_prefill.cu) and the host replay (cuda/test/replay/replay_flash_test.cpp).
//
// GQA packing: the `group` = nq / nk query heads that read one KV head are packed into the rows of one
// query tile, row r = (token r / group, head kvh * group + r % group), so a K/V tile in shared memory
// serves every query head of its KV head. A block takes `tile_tokens` = BM / group consecutive tokens of
// the step and one KV head; where those tokens belong to several sequences (or positions jump), it
// attends each run of one sequence's consecutive positions in turn. Causal: a row of the token at position
// p sees positions 0..p of its sequence, read through that sequence's page table exactly as
// tidepool::KvLayout places rows (kv_cache.cuh).
//
// Per K/V tile of BN positions: S = Q K^T and O += P V on mma.m16n8k16 (bf16 in, f32 accumulate), an online
// softmax in base 2 between them (scores scaled by log2(e) / sqrt(head_dim)); the S accumulators become
// the P operand in registers. K/V tiles stream through two shared stages with cp.async (zero-filled past
// the sequence's last position), Q is converted to bf16 once per run. 4 warps, 16 query rows each.
#pragma once

#include <cstddef>
#include <type_traits>

#include "simt.h"

namespace tidepool::cuda::tc {

struct FlashArgs {
  const void* q = nullptr;  // (T, q_ld) f32 / bf16 / f16: head h of token t at [t * q_ld + h * head_dim]
  int q_ld = 0;             // elements
  void* out = nullptr;      // (T, out_ld) f32 / bf16 / f16, laid out like q
  int out_ld = 0;
  const uint8_t* pool = nullptr;  // (num_pages, page_bytes) bf16 K/V rows
  int layer = 0;
  int block_tokens = 0, pages_per_block = 0, rows_per_page = 0;
  long long row_bytes = 0, page_bytes = 0;
  const int32_t* pos = nullptr;           // (T) absolute position of each token
  const int32_t* table_offset = nullptr;  // (T) its sequence's page table: pages[table_offset .. + n_pages)
  const int32_t* n_pages = nullptr;       // (T)
  const int32_t* pages = nullptr;
  int T = 0, group = 0, tile_tokens = 0;  // tile_tokens = BM / group
  float scale_log2 = 0.0f;                // log2(e) / sqrt(head_dim)
};

template <int HD_>
struct FlashTile {
  static constexpr int HD = HD_, BM = 64, BN = 64, WARPS = 4, THREADS = 32 * WARPS;
  static constexpr int ROW_BYTES = HD * 2, CHUNKS = HD / 8;
  static constexpr int Q_BYTES = BM * ROW_BYTES, KV_BYTES = BN * ROW_BYTES, STAGE_BYTES = 2 * KV_BYTES;
  static constexpr int SMEM_BYTES = Q_BYTES + 2 * STAGE_BYTES;
  static constexpr int KSTEPS = HD / 16, NS = BN / 8, NO = HD / 8;  // k16 steps of QK^T; n8 tiles of S, O
  static constexpr int Q_LOADS = BM * CHUNKS / THREADS, KV_LOADS = BN * CHUNKS / THREADS;
  static_assert(ROW_BYTES % 128 == 0, "whole swizzle periods per row (head_dim a multiple of 64)");
  static_assert(BM == 16 * WARPS, "one m16 tile of query rows per warp");
};

constexpr float kNegInf = -__builtin_huge_valf();

TP_HD int imin(int a, int b) { return a < b ? a : b; }
TP_HD float fmax2(float a, float b) { return a > b ? a : b; }

// Eight query elements from global memory as four bf16 pairs.
template <class QT, class X>
TP_BODY void load_q8(X& x, const QT* src, uint32_t (&v)[4]) {
  if constexpr (std::is_same_v<QT, float>) {
    uint32_t lo[4], hi[4];
    x.ld_global16(src, lo);
    x.ld_global16(src + 4, hi);
    v[0] = x.template pack<Bf16>(x.as_f32(lo[0]), x.as_f32(lo[1]));
    v[1] = x.template pack<Bf16>(x.as_f32(lo[2]), x.as_f32(lo[3]));
    v[2] = x.template pack<Bf16>(x.as_f32(hi[0]), x.as_f32(hi[1]));
    v[3] = x.template pack<Bf16>(x.as_f32(hi[2]), x.as_f32(hi[3]));
  } else {
    x.ld_global16(src, v);
    if constexpr (std::is_same_v<QT, F16>) {
      TP_UNROLL
      for (int i = 0; i < 4; i++)
        v[i] = x.template pack<Bf16>(x.to_f32(F16{static_cast<uint16_t>(v[i] & 0xFFFF)}),
                                     x.to_f32(F16{static_cast<uint16_t>(v[i] >> 16)}));
    }
  }
}

// One run: tokens [s0, s1) of one sequence at consecutive positions, for KV head kvh.
struct FlashRun {
  int kvh, s0, rows, first_pos, last_pos;  // rows = (s1 - s0) * group
  const int32_t* table;                    // the sequence's page table
  int table_len;
};

// Shared memory: the Q tile at 0, then two stages of (K tile, V tile).
template <class Cfg>
constexpr uint32_t kFlashStages = Cfg::Q_BYTES;

// K and V rows of positions tile*BN .. +BN into `stage`; rows past last_pos (or the table) read as zeros.
template <class Cfg, class X>
TP_BODY void flash_load_kv(X& x, const FlashArgs& f, const FlashRun& run, int stage, int tile) {
  const int tid = x.tid();
  const uint32_t sk = kFlashStages<Cfg> + stage * Cfg::STAGE_BYTES, sv = sk + Cfg::KV_BYTES;
  TP_UNROLL
  for (int i = 0; i < Cfg::KV_LOADS; i++) {
    const int chunk = tid + i * Cfg::THREADS, r = chunk / Cfg::CHUNKS, c = chunk % Cfg::CHUNKS;
    const int p = tile * Cfg::BN + r;
    const uint8_t* k_src = f.pool;
    const uint8_t* v_src = f.pool;
    bool k_ok = false, v_ok = false;
    if (p <= run.last_pos) {  // KvLayout: row (layer, k|v, p mod block_tokens) of block p / block_tokens
      const int blk = p / f.block_tokens;
      const int row_k = f.layer * 2 * f.block_tokens + (p - blk * f.block_tokens), row_v = row_k + f.block_tokens;
      const int ik = blk * f.pages_per_block + row_k / f.rows_per_page;
      const int iv = blk * f.pages_per_block + row_v / f.rows_per_page;
      const long long head = static_cast<long long>(run.kvh) * Cfg::ROW_BYTES + c * 16;
      k_ok = ik < run.table_len;
      v_ok = iv < run.table_len;
      if (k_ok) k_src += run.table[ik] * f.page_bytes + (row_k % f.rows_per_page) * f.row_bytes + head;
      if (v_ok) v_src += run.table[iv] * f.page_bytes + (row_v % f.rows_per_page) * f.row_bytes + head;
    }
    x.cp_async16(sk + swizzled(r, c, Cfg::ROW_BYTES), k_src, k_ok);
    x.cp_async16(sv + swizzled(r, c, Cfg::ROW_BYTES), v_src, v_ok);
  }
}

// The run's query rows as bf16 into the Q tile (rows past `rows` zero).
template <class Cfg, class QT, class X>
TP_BODY void flash_store_q(X& x, const FlashArgs& f, const FlashRun& run) {
  TP_UNROLL
  for (int i = 0; i < Cfg::Q_LOADS; i++) {
    const int chunk = x.tid() + i * Cfg::THREADS, r = chunk / Cfg::CHUNKS, c = chunk % Cfg::CHUNKS;
    uint32_t v[4] = {0, 0, 0, 0};
    if (r < run.rows) {
      const int tok = run.s0 + r / f.group, h = run.kvh * f.group + r % f.group;
      load_q8(x, static_cast<const QT*>(f.q) + static_cast<size_t>(tok) * f.q_ld + h * Cfg::HD + c * 8, v);
    }
    x.st_shared16(swizzled(r, c, Cfg::ROW_BYTES), v);
  }
}

// s = Q K^T for this warp's 16 rows and the BN positions of the K tile at sk. K rows are the n dimension
// of S and head_dim its k: the GEMM's B operand, (n 0-7, k 0-7), (n 0-7, k 8-15), (n 8-15, k 0-7), ...
template <class Cfg, class X>
TP_BODY void flash_scores(X& x, uint32_t sk, const uint32_t (&qf)[Cfg::KSTEPS][4], float (&s)[Cfg::NS][4]) {
  const int lane = x.tid() % 32;
  TP_UNROLL
  for (int nt = 0; nt < Cfg::NS; nt++) TP_UNROLL
  for (int e = 0; e < 4; e++) s[nt][e] = 0.0f;
  TP_UNROLL
  for (int ks = 0; ks < Cfg::KSTEPS; ks++) TP_UNROLL
  for (int p = 0; p < Cfg::NS / 2; p++) {
    uint32_t r[4];
    x.ldsm_x4(r, sk + swizzled(p * 16 + lane % 8 + (lane / 16) * 8, ks * 2 + (lane / 8) % 2, Cfg::ROW_BYTES));
    x.template mma<Bf16>(s[2 * p], qf[ks], r[0], r[1]);
    x.template mma<Bf16>(s[2 * p + 1], qf[ks], r[2], r[3]);
  }
}

// Online softmax over K/V tile j: masks positions past each row's own (causal), scales to log2 units,
// updates the running max m and this lane's partial normaliser l, rescales o, and leaves the
// probabilities in s. Accumulator elements 0,1 are row lane/4, 2,3 row lane/4 + 8; a row's columns are
// spread over the 4 lanes of its group.
template <class Cfg, class X>
TP_BODY void flash_softmax(X& x, const FlashArgs& f, int j, const int (&row_pos)[2], float (&s)[Cfg::NS][4],
                           float (&m)[2], float (&l)[2], float (&o)[Cfg::NO][4]) {
  const int lane = x.tid() % 32;
  float mx[2] = {kNegInf, kNegInf}, corr[2];
  TP_UNROLL
  for (int nt = 0; nt < Cfg::NS; nt++) TP_UNROLL
  for (int e = 0; e < 4; e++) {
    const int col = j * Cfg::BN + nt * 8 + (lane % 4) * 2 + (e & 1);
    s[nt][e] = col <= row_pos[e >> 1] ? s[nt][e] * f.scale_log2 : kNegInf;
    mx[e >> 1] = fmax2(mx[e >> 1], s[nt][e]);
  }
  TP_UNROLL
  for (int hh = 0; hh < 2; hh++) {
    mx[hh] = fmax2(mx[hh], x.shfl_xor(mx[hh], 1));
    mx[hh] = fmax2(mx[hh], x.shfl_xor(mx[hh], 2));
    const float m_new = fmax2(m[hh], mx[hh]);  // finite: tile 0 holds position 0 <= row_pos
    corr[hh] = x.exp2(m[hh] - m_new);
    m[hh] = m_new;
    l[hh] *= corr[hh];
  }
  TP_UNROLL
  for (int nt = 0; nt < Cfg::NS; nt++) TP_UNROLL
  for (int e = 0; e < 4; e++) {
    s[nt][e] = x.exp2(s[nt][e] - m[e >> 1]);
    l[e >> 1] += s[nt][e];
  }
  TP_UNROLL
  for (int nt = 0; nt < Cfg::NO; nt++) TP_UNROLL
  for (int e = 0; e < 4; e++) o[nt][e] *= corr[e >> 1];
}

// o += P V for the V tile at sv. P's accumulator layout for n8 tiles 2t, 2t+1 is the A layout of k16 step
// t; V (rows = positions = k) is read transposed so each lane gets its two k-adjacent elements: matrices
// (k 0-7, n 0-7), (k 8-15, n 0-7), (k 0-7, n 8-15), (k 8-15, n 8-15).
template <class Cfg, class X>
TP_BODY void flash_pv(X& x, uint32_t sv, const float (&s)[Cfg::NS][4], float (&o)[Cfg::NO][4]) {
  const int lane = x.tid() % 32;
  TP_UNROLL
  for (int t = 0; t < Cfg::BN / 16; t++) {
    const uint32_t a[4] = {x.template pack<Bf16>(s[2 * t][0], s[2 * t][1]),
                           x.template pack<Bf16>(s[2 * t][2], s[2 * t][3]),
                           x.template pack<Bf16>(s[2 * t + 1][0], s[2 * t + 1][1]),
                           x.template pack<Bf16>(s[2 * t + 1][2], s[2 * t + 1][3])};
    TP_UNROLL
    for (int dp = 0; dp < Cfg::HD / 16; dp++) {
      uint32_t r[4];
      x.ldsm_x4_t(r, sv + swizzled(t * 16 + ((lane / 8) % 2) * 8 + lane % 8, dp * 2 + lane / 16, Cfg::ROW_BYTES));
      x.template mma<Bf16>(o[2 * dp], a, r[0], r[1]);
      x.template mma<Bf16>(o[2 * dp + 1], a, r[2], r[3]);
    }
  }
}

// out = o / l for this lane's rows of the run (padding rows are not stored).
template <class Cfg, class OutT, class X>
TP_BODY void flash_store(X& x, const FlashArgs& f, const FlashRun& run, const float (&o)[Cfg::NO][4], float (&l)[2]) {
  const int lane = x.tid() % 32, warp = x.tid() / 32;
  TP_UNROLL
  for (int hh = 0; hh < 2; hh++) {
    l[hh] += x.shfl_xor(l[hh], 1);
    l[hh] += x.shfl_xor(l[hh], 2);
    const float inv = 1.0f / l[hh];
    const int r = warp * 16 + lane / 4 + hh * 8;
    if (r >= run.rows) continue;
    const int tok = run.s0 + r / f.group, h = run.kvh * f.group + r % f.group;
    const size_t base = static_cast<size_t>(tok) * f.out_ld + h * Cfg::HD + (lane % 4) * 2;
    TP_UNROLL
    for (int nt = 0; nt < Cfg::NO; nt++) {
      const float v0 = o[nt][2 * hh] * inv, v1 = o[nt][2 * hh + 1] * inv;
      if constexpr (std::is_same_v<OutT, float>) x.st_f32x2(static_cast<float*>(f.out) + base + nt * 8, v0, v1);
      else x.st_u32(static_cast<uint16_t*>(f.out) + base + nt * 8, x.template pack<OutT>(v0, v1));
    }
  }
}

// Attends one run: K/V tiles 0 .. last_pos / BN through two stages, Q fragments held in registers.
template <class Cfg, class QT, class OutT, class X>
TP_BODY void flash_run(X& x, const FlashArgs& f, const FlashRun& run) {
  const int lane = x.tid() % 32, warp = x.tid() / 32;
  x.sync();  // the previous run's reads of the Q tile and both stages are done
  flash_load_kv<Cfg>(x, f, run, 0, 0);
  x.cp_commit();
  flash_store_q<Cfg, QT>(x, f, run);
  x.sync();                     // the Q tile is complete
  uint32_t qf[Cfg::KSTEPS][4];  // lanes 0-15: rows 0-15 at k 0-7, lanes 16-31: the same rows at k 8-15
  TP_UNROLL
  for (int ks = 0; ks < Cfg::KSTEPS; ks++)
    x.ldsm_x4(qf[ks], swizzled(warp * 16 + lane % 16, ks * 2 + lane / 16, Cfg::ROW_BYTES));
  int row_pos[2];  // padding rows repeat the last token's position
  TP_UNROLL
  for (int hh = 0; hh < 2; hh++)
    row_pos[hh] = run.first_pos + imin(warp * 16 + lane / 4 + hh * 8, run.rows - 1) / f.group;

  float o[Cfg::NO][4], s[Cfg::NS][4], m[2] = {kNegInf, kNegInf}, l[2] = {0.0f, 0.0f};
  TP_UNROLL
  for (int nt = 0; nt < Cfg::NO; nt++) TP_UNROLL
  for (int e = 0; e < 4; e++) o[nt][e] = 0.0f;
  const int tiles = run.last_pos / Cfg::BN + 1;
  for (int j = 0; j < tiles; j++) {
    x.template cp_wait<0>();
    x.sync();  // tile j landed for every thread; the other stage is no longer read
    if (j + 1 < tiles) {
      flash_load_kv<Cfg>(x, f, run, (j + 1) % 2, j + 1);
      x.cp_commit();
    }
    const uint32_t sk = kFlashStages<Cfg> + (j % 2) * Cfg::STAGE_BYTES;
    flash_scores<Cfg>(x, sk, qf, s);
    flash_softmax<Cfg>(x, f, j, row_pos, s, m, l, o);
    flash_pv<Cfg>(x, sk + Cfg::KV_BYTES, s, o);
  }
  flash_store<Cfg, OutT>(x, f, run, o, l);
}

// One block: tokens [tile * tile_tokens, +tile_tokens) of the step for KV head block_y; the grid's last
// tiles (the latest positions, the most work) start first. Grid (ceil(T / tile_tokens), nk).
template <class Cfg, class QT, class OutT, class X>
TP_BODY void flash_block(X& x, const FlashArgs& f) {
  const int tile = x.grid_x() - 1 - x.block_x(), kvh = x.block_y();
  const int t_begin = tile * f.tile_tokens, t_end = imin(f.T, t_begin + f.tile_tokens);
  for (int s0 = t_begin; s0 < t_end;) {
    int s1 = s0 + 1;
    while (s1 < t_end && f.table_offset[s1] == f.table_offset[s0] && f.pos[s1] == f.pos[s1 - 1] + 1) s1++;
    const FlashRun run{kvh,          s0, (s1 - s0) * f.group, f.pos[s0], f.pos[s1 - 1], f.pages + f.table_offset[s0],
                       f.n_pages[s0]};
    flash_run<Cfg, QT, OutT>(x, f, run);
    s0 = s1;
  }
}

}  // namespace tidepool::cuda::tc
