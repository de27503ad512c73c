// GEMM of f32 checkpoints (half weights take skinny_gemm.cu and gemm_tc.cu): Y (T, N) = X (T, K) · W^T
// in passes of up to 8 tokens. Each warp streams one weight row with 16-byte loads (several in flight) and
// applies it to every token of the pass while it is in registers: the weights are read once per pass.
// Activations (f32, a few KB per token) stay in L1/L2; token rows may be gathered (x_rows).
//
// Accumulation order per output is fixed (lane-strided chunks, then a butterfly reduction), whatever T is,
// so a token's result does not depend on its batch-mates.

#include "common.cuh"

namespace tidepool::cuda {

namespace {
constexpr int kWarps = 8;   // warps per block, one weight row per warp at a time
constexpr int kUnroll = 2;  // 16-byte weight loads in flight per lane
}  // namespace

// ---------------------------------------------------------------- kernels

// grid (ceil(N / kWarps)), block (32 * kWarps). TT tokens per pass: X rows x_rows[t] (or t when null).
template <typename W, int TT>
__global__ void __launch_bounds__(32 * kWarps)
    gemv_kernel(const float* X, const int32_t* x_rows, const W* Wt, float* Y, int N, int K) {
  constexpr int V = WeightTraits<W>::kPerVec;  // elements per 16-byte load
  const int lane = threadIdx.x % 32;
  const int row = blockIdx.x * kWarps + threadIdx.x / 32;
  if (row >= N) return;
  const W* wrow = Wt + static_cast<size_t>(row) * K;  // (K)
  float acc[TT];
  const float* xs[TT];  // (K) token rows of the pass
#pragma unroll
  for (int t = 0; t < TT; t++) {
    acc[t] = 0.0f;
    xs[t] = X + static_cast<size_t>(x_rows ? x_rows[t] : t) * K;
  }
  const int chunks = K / V;
  int c = lane;
  for (; c + 32 * (kUnroll - 1) < chunks; c += 32 * kUnroll) {
    float w[kUnroll][V];
#pragma unroll
    for (int u = 0; u < kUnroll; u++) load_vec_f32(wrow + static_cast<size_t>(c + 32 * u) * V, w[u]);
#pragma unroll
    for (int u = 0; u < kUnroll; u++) {
#pragma unroll
      for (int t = 0; t < TT; t++) {
        const float* x = xs[t] + static_cast<size_t>(c + 32 * u) * V;
#pragma unroll
        for (int j = 0; j < V; j += 4) {
          const float4 xv = *reinterpret_cast<const float4*>(x + j);
          acc[t] += w[u][j] * xv.x + w[u][j + 1] * xv.y + w[u][j + 2] * xv.z + w[u][j + 3] * xv.w;
        }
      }
    }
  }
  for (; c < chunks; c += 32) {
    float w[V];
    load_vec_f32(wrow + static_cast<size_t>(c) * V, w);
#pragma unroll
    for (int t = 0; t < TT; t++) {
      const float* x = xs[t] + static_cast<size_t>(c) * V;
#pragma unroll
      for (int j = 0; j < V; j += 4) {
        const float4 xv = *reinterpret_cast<const float4*>(x + j);
        acc[t] += w[j] * xv.x + w[j + 1] * xv.y + w[j + 2] * xv.z + w[j + 3] * xv.w;
      }
    }
  }
#pragma unroll
  for (int t = 0; t < TT; t++) {
    const float v = warp_sum(acc[t]);
    if (lane == 0) Y[static_cast<size_t>(t) * N + row] = v;
  }
}

// ---------------------------------------------------------------- launchers

template <typename W>
static void gemv_pass(const float* X, const int32_t* x_rows, const W* Wt, float* Y, int T, int N, int K,
                      cudaStream_t s) {
  const dim3 grid((N + kWarps - 1) / kWarps), block(32 * kWarps);
  switch (T) {
    case 1:
      gemv_kernel<W, 1><<<grid, block, 0, s>>>(X, x_rows, Wt, Y, N, K);
      break;
    case 2:
      gemv_kernel<W, 2><<<grid, block, 0, s>>>(X, x_rows, Wt, Y, N, K);
      break;
    case 3:
      gemv_kernel<W, 3><<<grid, block, 0, s>>>(X, x_rows, Wt, Y, N, K);
      break;
    case 4:
      gemv_kernel<W, 4><<<grid, block, 0, s>>>(X, x_rows, Wt, Y, N, K);
      break;
    case 5:
      gemv_kernel<W, 5><<<grid, block, 0, s>>>(X, x_rows, Wt, Y, N, K);
      break;
    case 6:
      gemv_kernel<W, 6><<<grid, block, 0, s>>>(X, x_rows, Wt, Y, N, K);
      break;
    case 7:
      gemv_kernel<W, 7><<<grid, block, 0, s>>>(X, x_rows, Wt, Y, N, K);
      break;
    default:
      gemv_kernel<W, 8><<<grid, block, 0, s>>>(X, x_rows, Wt, Y, N, K);
      break;
  }
}

void launch_gemv(const float* X, const void* W, WeightType w, float* Y, int T, int N, int K, cudaStream_t s,
                 const int32_t* x_rows) {
  KERNEL_ASSERT(X && W && Y && T >= 0 && N > 0 && K > 0);
  KERNEL_ASSERT(K % 8 == 0);
  KERNEL_ASSERT(reinterpret_cast<uintptr_t>(W) % 16 == 0 && reinterpret_cast<uintptr_t>(X) % 16 == 0);
  dispatch_weight(w, [&](auto tag) {
    using Wt = decltype(tag);
    for (int t0 = 0; t0 < T; t0 += 8) {  // passes of up to 8 tokens
      const int tt = std::min(8, T - t0);
      const float* xp = x_rows ? X : X + static_cast<size_t>(t0) * K;
      gemv_pass<Wt>(xp, x_rows ? x_rows + t0 : nullptr, static_cast<const Wt*>(W), Y + static_cast<size_t>(t0) * N, tt,
                    N, K, s);
    }
  });
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
