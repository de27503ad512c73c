// Work split and lane arithmetic of the skinny GEMM (skinny_gemm.cu), in plain C++ so that the host replay
// (test/skinny_replay_test.cpp) runs the very functions the kernel runs.
//
// Y^T = W · X^T on mma.sync.m16n8k16: the weights are the A operand (16 output rows per warp), the T <= 32
// tokens the B operand (n-tiles of 8). Each lane fills its fragments with 16-byte loads: per step of 32
// elements of k, lane (group g = lane / 4, quad q = lane % 4) loads elements [8q, 8q + 8) of weight rows g
// and g + 8 and of token row g of each n-tile. A k permutation applied to both operands leaves the dot
// product unchanged, so the 8 loaded elements fill the fragment slots the ISA assigns to the lane:
//   mma half h (0, 1) of a step takes the lane's registers 2h (ISA k pair 2q, 2q+1) and 2h + 1 (ISA pair
//   2q + 8, 2q + 9), i.e. loaded elements 4h .. 4h + 3.
#pragma once

#include <algorithm>
#include <cstddef>

#if defined(__CUDACC__)
#define TP_HOST_DEVICE __host__ __device__
#else
#define TP_HOST_DEVICE
#endif

namespace tidepool::cuda::skinny {

constexpr int kMaxTokens = 32;        // tokens per launch: up to 4 n-tiles of 8
constexpr int kMaxGroup = 3;          // weight tensors per launch (Q/K/V, gate/up)
constexpr int kTileRows = 16;         // weight rows per warp: the mma's M
constexpr int kWarps = 4;             // warps per block, one m-tile each
constexpr int kStepK = 32;            // k elements per step: 4 lanes x 8 elements (one 16-byte load)
constexpr int kUnroll = 4;            // steps whose weight loads are issued together (8 x 16 B per lane)
constexpr int kBlocksPerSm = 4;       // resident blocks per SM: <= 128 registers a thread (ptxas -v: 80..114)
constexpr int kMaxSplits = 16;        // split-K parts at most
constexpr int kMinStepsPerSplit = 2;  // 64 elements of k per warp at least

struct Plan {
  int count = 0;                       // weight tensors in the group
  int tile_start[kMaxGroup + 1] = {};  // first m-tile of each tensor; [count] = all m-tiles
  int col_start[kMaxGroup + 1] = {};   // first output column of each tensor; [count] = all columns
  int k_steps = 0;                     // ceil(K / kStepK)
  int splits = 1;                      // split-K parts (grid.y)
  int steps_per_split = 0;
  int blocks_x = 0;  // ceil(m_tiles / kWarps) (grid.x)

  TP_HOST_DEVICE int m_tiles() const { return entry(tile_start, count); }
  TP_HOST_DEVICE int columns() const { return entry(col_start, count); }
  // Tensor of m-tile `mt` (< m_tiles()).
  TP_HOST_DEVICE int tensor_of(int mt) const {
    return (count > 1 && mt >= tile_start[1] ? 1 : 0) + (count > 2 && mt >= tile_start[2] ? 1 : 0);
  }
  // a[i] with constant indices only: a kernel parameter indexed at run time would be copied to local memory.
  TP_HOST_DEVICE static int entry(const int (&a)[kMaxGroup + 1], int i) {
    return i == 0 ? a[0] : i == 1 ? a[1] : i == 2 ? a[2] : a[3];
  }
  // Steps [begin, end) of split s; never empty.
  TP_HOST_DEVICE int split_begin(int s) const { return s * steps_per_split; }
  TP_HOST_DEVICE int split_end(int s) const {
    const int e = (s + 1) * steps_per_split;
    return e < k_steps ? e : k_steps;
  }
  // f32 scratch for the split partial sums of T tokens: (splits, T, columns()); 0 without splitting.
  size_t workspace_floats(int T) const { return splits > 1 ? static_cast<size_t>(splits) * T * columns() : 0; }
};

// A last wave that fills at least this fraction of the resident block slots is taken to keep HBM busy:
// 2 blocks per SM have 32 KB of weight loads in flight per SM, ~4 MB on 132 SMs, about an H100's
// bandwidth x latency. A model constant, to be tuned on a GPU.
constexpr double kSaturatingWave = 0.5;

// Share of the time `blocks` blocks stream at full bandwidth: full waves do, a last wave below
// kSaturatingWave of the slots runs proportionally slower.
inline double wave_efficiency(long blocks, long resident) {
  const long full = blocks / resident, tail = blocks % resident;
  const double floor = kSaturatingWave * static_cast<double>(resident);
  const double slots =
      static_cast<double>(full * resident) + (tail > 0 ? std::max(static_cast<double>(tail), floor) : 0.0);
  return static_cast<double>(blocks) / slots;
}

// The split of K. A block streams at most kWarps x 4 KB at a time, so a step with few blocks (a last
// wave of few blocks) runs below the memory bandwidth; splitting K adds blocks but writes and re-reads
// partial sums. The choice minimises a model of the time: weight bytes / wave efficiency plus the
// partial sums of 8 tokens written and read. It depends on the weights' shapes and the SM count only,
// never on T, so a token's sums are added in the same order whatever its batch-mates. Splits are at most
// kMaxSplits and at least kMinStepsPerSplit steps long.
inline Plan make_plan(const int* n, int count, int K, int sms) {
  Plan p;
  p.count = count;
  for (int i = 0; i < count; i++) {
    p.tile_start[i + 1] = p.tile_start[i] + (n[i] + kTileRows - 1) / kTileRows;
    p.col_start[i + 1] = p.col_start[i] + n[i];
  }
  p.k_steps = (K + kStepK - 1) / kStepK;
  p.blocks_x = (p.m_tiles() + kWarps - 1) / kWarps;
  int most = p.k_steps / kMinStepsPerSplit;
  most = most < 1 ? 1 : most > kMaxSplits ? kMaxSplits : most;
  const long resident = static_cast<long>(sms > 0 ? sms : 1) * kBlocksPerSm;
  const double weight_bytes = 2.0 * p.columns() * K, partial_bytes = 2.0 * 8 * 4 * p.columns();
  double best = 0;
  for (int s = 1; s <= most; s++) {
    const int per = (p.k_steps + s - 1) / s, splits = (p.k_steps + per - 1) / per;
    if (splits != s) continue;  // the same split as a smaller s
    const double cost =
        weight_bytes / wave_efficiency(static_cast<long>(p.blocks_x) * s, resident) + (s > 1 ? partial_bytes * s : 0.0);
    if (s == 1 || cost < best) {
      best = cost;
      p.splits = s;
      p.steps_per_split = per;
    }
  }
  return p;
}

// ---- one lane's share of a step (see the header comment)
TP_HOST_DEVICE inline int lane_group(int lane) { return lane / 4; }    // weight rows g, g + 8; token g
TP_HOST_DEVICE inline int lane_k(int lane) { return (lane % 4) * 8; }  // first of its 8 elements of k
// The 32-bit register (0..3) of the lane's 16-byte load that feeds mma half h (0, 1), ISA k pair p
// (0: k = 2q, 2q + 1; 1: k = 2q + 8, 2q + 9).
TP_HOST_DEVICE inline int load_register(int half, int pair) { return 2 * half + pair; }
// Accumulator element e (0..3) of n-tile j: its weight row within the m-tile and its token.
TP_HOST_DEVICE inline int acc_row(int lane, int e) { return lane / 4 + 8 * (e / 2); }
TP_HOST_DEVICE inline int acc_token(int lane, int j, int e) { return 8 * j + (lane % 4) * 2 + e % 2; }

}  // namespace tidepool::cuda::skinny
