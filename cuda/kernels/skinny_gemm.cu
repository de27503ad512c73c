// The decode GEMM for 1..32 tokens per step: Y (T, cols) f32 = X (T, K) · [W_0; W_1; W_2]^T for a group
// of up to 3 weight tensors (Q/K/V or gate/up) read where they lie in the slot, f16 or bf16 like X.
//
// Why tensor cores: a step streams every weight once, so it is bound by memory at ~3.35 TB/s on an H100.
// At T = 32 that is 32 FMA per 2-byte weight, 107 TFLOP/s of f32 FMA, above the 67 TFLOP/s the CUDA cores
// peak at, before the cost of widening bf16; mma.sync runs it with room to spare (T padded to 8, 16, 24 or
// 32 costs nothing that matters: the tensor cores idle at >= 7/8 at T = 1 and still keep up).
//
// Work: a warp owns one m-tile (16 weight rows) and one split of K; a block is kWarps m-tiles of the same
// split. Weights stream through registers with 16-byte loads marked evict-first, the next kUnroll steps
// loaded before the current ones are multiplied (2 x kUnroll loads, 4 KB per warp, in flight); token rows
// are 16-byte loads through L1, where every warp of the split re-reads them. The split of K
// (skinny_plan.h) fills the GPU's SMs for every projection of the 0.5b..13b shapes; partial sums go to
// `workspace`, and the last block of each column of blocks to finish (an atomic counter per column, left
// at zero for the next launch) adds the splits in index order. Every output is therefore summed in an
// order fixed by the weights' shapes and the SM count alone: bit-identical across runs and batch sizes.

#include <atomic>

#include "mma.cuh"
#include "skinny_plan.h"

namespace tidepool::cuda {

namespace {

using namespace skinny;

struct SkinnyArgs {
  const void* w[kMaxGroup];  // (n_i, K) each
  int n[kMaxGroup];
  Plan plan;
  const void* x;          // (*, K) token rows
  const int32_t* x_rows;  // (T) rows of x, or null: row t
  int T, K;
  float* y;  // (T, ldy) outputs, columns [0, plan.columns())
  int ldy;
  float* workspace;  // (plan.splits, T, plan.columns()) when plan.splits > 1
  int* counters;     // (plan.blocks_x) zero between launches
};

__device__ __forceinline__ int rows_of(const SkinnyArgs& a, int tensor) {
  return tensor == 0 ? a.n[0] : tensor == 1 ? a.n[1] : a.n[2];
}

__device__ __forceinline__ void load16_stream(uint32_t* r, const void* p) {
  const uint4 v = __ldcs(reinterpret_cast<const uint4*>(p));  // weights are read once: evict first
  r[0] = v.x;
  r[1] = v.y;
  r[2] = v.z;
  r[3] = v.w;
}
__device__ __forceinline__ void load16_cached(uint32_t* r, const void* p) {
  const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
  r[0] = v.x;
  r[1] = v.y;
  r[2] = v.z;
  r[3] = v.w;
}
__device__ __forceinline__ void zero4(uint32_t* r) { r[0] = r[1] = r[2] = r[3] = 0u; }

// Weight registers of steps [s0, s0 + kUnroll) for rows a and b (zeros past the split, K or the rows).
template <typename H>
__device__ __forceinline__ void load_weights(const H* wa, const H* wb, bool va, bool vb, int s0, int s_end, int kl,
                                             int K, uint32_t (&ua)[kUnroll][4], uint32_t (&ub)[kUnroll][4]) {
#pragma unroll
  for (int u = 0; u < kUnroll; u++) {
    const int k = (s0 + u) * kStepK;
    const bool ok = s0 + u < s_end && k + kl < K;
    if (ok && va) load16_stream(ua[u], wa + k);
    else zero4(ua[u]);
    if (ok && vb) load16_stream(ub[u], wb + k);
    else zero4(ub[u]);
  }
}

// The last of the plan.splits blocks of this column adds their partial sums, in split order, into y.
__device__ void reduce_splits(const SkinnyArgs& a) {
  const Plan& p = a.plan;
  const int cols = p.columns(), items = kWarps * a.T * kTileRows;
  for (int i = threadIdx.x; i < items; i += blockDim.x) {
    const int w = i / (a.T * kTileRows), t = i / kTileRows % a.T, r = i % kTileRows;
    const int mt = blockIdx.x * kWarps + w;
    if (mt >= p.m_tiles()) continue;
    const int tensor = p.tensor_of(mt), row = (mt - Plan::entry(p.tile_start, tensor)) * kTileRows + r;
    if (row >= rows_of(a, tensor)) continue;
    const int col = Plan::entry(p.col_start, tensor) + row;
    float sum = 0.0f;
    for (int s = 0; s < p.splits; s++) sum += __ldcg(a.workspace + (static_cast<size_t>(s) * a.T + t) * cols + col);
    a.y[static_cast<size_t>(t) * a.ldy + col] = sum;
  }
}

}  // namespace

// ---------------------------------------------------------------- kernels

// grid (plan.blocks_x, plan.splits), block (32 * kWarps). NT n-tiles of 8 tokens (T <= 8 * NT).
template <typename H, int NT>
__global__ void __launch_bounds__(32 * kWarps) skinny_gemm_kernel(const SkinnyArgs a) {
  const Plan& p = a.plan;
  const int lane = threadIdx.x % 32, mt = blockIdx.x * kWarps + threadIdx.x / 32, split = blockIdx.y;
  const bool active = mt < p.m_tiles();
  const int tensor = active ? p.tensor_of(mt) : 0,
            row0 = active ? (mt - Plan::entry(p.tile_start, tensor)) * kTileRows : 0;
  const int n = rows_of(a, tensor), kl = lane_k(lane), col0 = Plan::entry(p.col_start, tensor);
  float acc[NT][4];
#pragma unroll
  for (int j = 0; j < NT; j++) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

  if (active) {
    const int ra = row0 + lane_group(lane), rb = ra + 8;
    const H* W = static_cast<const H*>(tensor == 0 ? a.w[0] : tensor == 1 ? a.w[1] : a.w[2]);
    const H* wa = W + static_cast<size_t>(ra < n ? ra : 0) * a.K + kl;  // (K) this lane's weight rows
    const H* wb = W + static_cast<size_t>(rb < n ? rb : 0) * a.K + kl;
    const H* xr[NT];  // (K) this lane's token rows
    bool xv[NT];
#pragma unroll
    for (int j = 0; j < NT; j++) {
      const int t = 8 * j + lane_group(lane);
      xv[j] = t < a.T;
      const int row = !xv[j] ? 0 : a.x_rows ? a.x_rows[t] : t;
      xr[j] = static_cast<const H*>(a.x) + static_cast<size_t>(row) * a.K + kl;
    }
    const int s_begin = p.split_begin(split), s_end = p.split_end(split);
    // Weights of the next kUnroll steps are loaded before the current ones are multiplied, so a warp
    // keeps 2 x kUnroll x 2 16-byte loads of weights in flight.
    uint32_t ua[kUnroll][4], ub[kUnroll][4];
    load_weights<H>(wa, wb, ra < n, rb < n, s_begin, s_end, kl, a.K, ua, ub);
    for (int s0 = s_begin; s0 < s_end; s0 += kUnroll) {
      uint32_t na[kUnroll][4], nb[kUnroll][4];
      load_weights<H>(wa, wb, ra < n, rb < n, s0 + kUnroll, s_end, kl, a.K, na, nb);
#pragma unroll
      for (int u = 0; u < kUnroll; u++) {
        const int k = (s0 + u) * kStepK;
        const bool ok = s0 + u < s_end && k + kl < a.K;
#pragma unroll
        for (int j = 0; j < NT; j++) {
          uint32_t xb[4];
          if (ok && xv[j]) load16_cached(xb, xr[j] + k);
          else zero4(xb);
#pragma unroll
          for (int h = 0; h < 2; h++) {
            const uint32_t af[4] = {ua[u][load_register(h, 0)], ub[u][load_register(h, 0)], ua[u][load_register(h, 1)],
                                    ub[u][load_register(h, 1)]};
            const uint32_t bf[2] = {xb[load_register(h, 0)], xb[load_register(h, 1)]};
            mma_m16n8k16<H>(acc[j], af, bf);
          }
        }
      }
#pragma unroll
      for (int u = 0; u < kUnroll; u++)
#pragma unroll
        for (int r = 0; r < 4; r++) {
          ua[u][r] = na[u][r];
          ub[u][r] = nb[u][r];
        }
    }
  }

  const bool split_k = p.splits > 1;
  float* out = split_k ? a.workspace + static_cast<size_t>(split) * a.T * p.columns() : a.y;
  const int ld = split_k ? p.columns() : a.ldy;
  if (active) {
#pragma unroll
    for (int j = 0; j < NT; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const int row = row0 + acc_row(lane, e), t = acc_token(lane, j, e);
        if (row < n && t < a.T) out[static_cast<size_t>(t) * ld + col0 + row] = acc[j][e];
      }
  }
  if (!split_k) return;
  __shared__ bool s_last;
  __threadfence();  // this thread's partials are visible device-wide before the block is counted
  __syncthreads();
  if (threadIdx.x == 0) {
    s_last = atomicAdd(&a.counters[blockIdx.x], 1) == p.splits - 1;
    __threadfence();
  }
  __syncthreads();
  if (!s_last) return;
  reduce_splits(a);
  if (threadIdx.x == 0) a.counters[blockIdx.x] = 0;  // every split of this column has counted
}

// ---------------------------------------------------------------- launchers

static_assert(kSkinnyMaxTokens == kMaxTokens && kSkinnyCounterInts >= 1024, "see skinny_plan.h");

// SM count of the current device, read once per device (the split of K depends on it).
static int device_sms() {
  static std::atomic<int> cache[64];
  int device = 0;
  if (cudaGetDevice(&device) != cudaSuccess) throw_cuda_error(__FILE__, __LINE__, "cudaGetDevice", cudaGetLastError());
  const bool cached = device >= 0 && device < 64;
  if (cached && cache[device].load() > 0) return cache[device].load();
  int sms = 0;
  const cudaError_t err = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
  if (err != cudaSuccess) throw_cuda_error(__FILE__, __LINE__, "cudaDeviceGetAttribute", err);
  if (cached) cache[device].store(sms);
  return sms;
}

size_t skinny_workspace_floats(const int* n, int count, int K, int T) {
  return make_plan(n, count, K, device_sms()).workspace_floats(T);
}

template <typename H>
static void skinny_launch(const SkinnyArgs& a, cudaStream_t s) {
  const dim3 grid(a.plan.blocks_x, a.plan.splits), block(32 * kWarps);
  switch ((a.T + 7) / 8) {
    case 1:
      skinny_gemm_kernel<H, 1><<<grid, block, 0, s>>>(a);
      break;
    case 2:
      skinny_gemm_kernel<H, 2><<<grid, block, 0, s>>>(a);
      break;
    case 3:
      skinny_gemm_kernel<H, 3><<<grid, block, 0, s>>>(a);
      break;
    default:
      skinny_gemm_kernel<H, 4><<<grid, block, 0, s>>>(a);
      break;
  }
}

void launch_skinny_gemm(const void* X, const int32_t* x_rows, int T, int K, const SkinnyGroup& g, WeightType w,
                        float* Y, int ldy, float* workspace, int* counters, cudaStream_t s) {
  KERNEL_ASSERT(X && Y && T >= 0 && T <= kMaxTokens && K > 0 && K % 8 == 0 && w != WeightType::F32);
  KERNEL_ASSERT(g.count >= 1 && g.count <= kMaxGroup);
  KERNEL_ASSERT(reinterpret_cast<uintptr_t>(X) % 16 == 0);
  if (T == 0) return;
  SkinnyArgs a{};
  for (int i = 0; i < g.count; i++) {
    KERNEL_ASSERT(g.w[i] && g.n[i] > 0 && reinterpret_cast<uintptr_t>(g.w[i]) % 16 == 0);
    a.w[i] = g.w[i];
    a.n[i] = g.n[i];
  }
  a.plan = make_plan(g.n, g.count, K, device_sms());
  KERNEL_ASSERT(ldy >= a.plan.columns());
  KERNEL_ASSERT(a.plan.splits == 1 || (workspace && counters && a.plan.blocks_x <= kSkinnyCounterInts));
  a.x = X;
  a.x_rows = x_rows;
  a.T = T;
  a.K = K;
  a.y = Y;
  a.ldy = ldy;
  a.workspace = workspace;
  a.counters = counters;
  if (w == WeightType::F16) skinny_launch<__half>(a, s);
  else skinny_launch<__nv_bfloat16>(a, s);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
