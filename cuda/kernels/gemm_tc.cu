// Tensor-core GEMM for prefill: Y (M, N) f32 = A (M, K) · W^T, where A is the activations rounded to the
// weights' half type and W (N, K) is a weight matrix as stored (f16 or bf16). f32 accumulation.
//
// Block tile 64 x 128 x 32, 4 warps (2 x 2), each warp 32 x 64 = 2 x 8 mma.sync.m16n8k16 tiles. Tiles move
// global -> shared with cp.async (16 bytes per copy, zero-filled past the matrix edges) through a 3-stage
// pipeline; fragments come out of shared memory with ldmatrix. Shared rows are padded by 16 bytes so
// the 8 rows one ldmatrix reads fall in distinct bank groups. Both operands are K-major ("row.col").

#include "common.cuh"

namespace tidepool::cuda {

namespace {
constexpr int BM = 64, BN = 128, BK = 32, STAGES = 3, THREADS = 128;
constexpr int LDS = BK + 8;  // shared row stride in elements (80 bytes)

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void cp_async16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(N)); }

__device__ __forceinline__ void ldmatrix_x4(uint32_t* r, const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}

template <typename T> __device__ __forceinline__ void mma16816(float* c, const uint32_t* a, const uint32_t* b);
template <> __device__ __forceinline__ void mma16816<__half>(float* c, const uint32_t* a, const uint32_t* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
template <> __device__ __forceinline__ void mma16816<__nv_bfloat16>(float* c, const uint32_t* a, const uint32_t* b) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}
}  // namespace

// ---------------------------------------------------------------- kernels

template <typename T>
__global__ void cast_half_kernel(const float* x, T* out, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = from_f32<T>(x[i]);
}

// grid (ceil(N / BN), ceil(M / BM)), block (THREADS).
template <typename T>
__global__ void __launch_bounds__(THREADS) gemm_tc_kernel(const T* A, const T* W, float* Y, int M, int N, int K) {
  __shared__ __align__(128) T sA[STAGES][BM][LDS];  // activations tile
  __shared__ __align__(128) T sB[STAGES][BN][LDS];  // weight tile, rows are output features
  const int tid = threadIdx.x, lane = tid % 32, warp = tid / 32;
  const int warp_m = warp / 2, warp_n = warp % 2;
  const int m0 = blockIdx.y * BM, n0 = blockIdx.x * BN;
  const int ktiles = (K + BK - 1) / BK;

  auto load_tile = [&](int stage, int kt) {
    const int k0 = kt * BK;
#pragma unroll
    for (int i = 0; i < (BM * BK / 8) / THREADS; i++) {  // 2 chunks of 8 elements per thread
      const int chunk = tid + i * THREADS, r = chunk / (BK / 8), c = (chunk % (BK / 8)) * 8;
      const bool ok = m0 + r < M && k0 + c < K;
      cp_async16(&sA[stage][r][c], ok ? A + static_cast<size_t>(m0 + r) * K + k0 + c : A, ok);
    }
#pragma unroll
    for (int i = 0; i < (BN * BK / 8) / THREADS; i++) {  // 4 chunks per thread
      const int chunk = tid + i * THREADS, r = chunk / (BK / 8), c = (chunk % (BK / 8)) * 8;
      const bool ok = n0 + r < N && k0 + c < K;
      cp_async16(&sB[stage][r][c], ok ? W + static_cast<size_t>(n0 + r) * K + k0 + c : W, ok);
    }
  };

  float acc[2][8][4];
#pragma unroll
  for (int mi = 0; mi < 2; mi++)
#pragma unroll
    for (int ni = 0; ni < 8; ni++)
#pragma unroll
      for (int j = 0; j < 4; j++) acc[mi][ni][j] = 0.0f;

#pragma unroll
  for (int st = 0; st < STAGES - 1; st++) {
    if (st < ktiles) load_tile(st, st);
    cp_async_commit();
  }
  for (int kt = 0; kt < ktiles; kt++) {
    cp_async_wait<STAGES - 2>();
    __syncthreads();  // tile kt landed for every thread; stage (kt-1) % STAGES is no longer read
    const int next = kt + STAGES - 1;
    if (next < ktiles) load_tile(next % STAGES, next);
    cp_async_commit();
    const int st = kt % STAGES;
#pragma unroll
    for (int kk = 0; kk < BK; kk += 16) {
      uint32_t a[2][4], b[8][2];
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
        ldmatrix_x4(a[mi], &sA[st][warp_m * 32 + mi * 16 + lane % 16][kk + (lane / 16) * 8]);
#pragma unroll
      for (int p = 0; p < 4; p++) {
        uint32_t r[4];
        ldmatrix_x4(r, &sB[st][warp_n * 64 + p * 16 + lane % 8 + (lane / 16) * 8][kk + ((lane / 8) % 2) * 8]);
        b[2 * p][0] = r[0]; b[2 * p][1] = r[1]; b[2 * p + 1][0] = r[2]; b[2 * p + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int ni = 0; ni < 8; ni++) mma16816<T>(acc[mi][ni], a[mi], b[ni]);
    }
  }
  cp_async_wait<0>();

#pragma unroll
  for (int mi = 0; mi < 2; mi++) {
#pragma unroll
    for (int ni = 0; ni < 8; ni++) {
      const int row = m0 + warp_m * 32 + mi * 16 + lane / 4;
      const int col = n0 + warp_n * 64 + ni * 8 + (lane % 4) * 2;
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const int r = row + half * 8;
        if (r >= M) continue;
        if (col < N) Y[static_cast<size_t>(r) * N + col] = acc[mi][ni][half * 2];
        if (col + 1 < N) Y[static_cast<size_t>(r) * N + col + 1] = acc[mi][ni][half * 2 + 1];
      }
    }
  }
}

// ---------------------------------------------------------------- launchers

void launch_cast_half(const float* x, void* out, WeightType w, size_t n, cudaStream_t s) {
  KERNEL_ASSERT(x && out && w != WeightType::F32);
  if (n == 0) return;
  const int blocks = static_cast<int>(std::min<size_t>((n + 255) / 256, 65535));
  if (w == WeightType::F16) cast_half_kernel<__half><<<blocks, 256, 0, s>>>(x, static_cast<__half*>(out), n);
  else cast_half_kernel<__nv_bfloat16><<<blocks, 256, 0, s>>>(x, static_cast<__nv_bfloat16*>(out), n);
  LAUNCH_CHECK();
}

void launch_gemm_tc(const void* A, const void* W, WeightType w, float* Y, int M, int N, int K, cudaStream_t s) {
  KERNEL_ASSERT(A && W && Y && M >= 0 && N > 0 && K > 0 && w != WeightType::F32);
  KERNEL_ASSERT(K % 8 == 0);
  KERNEL_ASSERT(reinterpret_cast<uintptr_t>(A) % 16 == 0 && reinterpret_cast<uintptr_t>(W) % 16 == 0);
  if (M == 0) return;
  const dim3 grid((N + BN - 1) / BN, (M + BM - 1) / BM);
  if (w == WeightType::F16)
    gemm_tc_kernel<__half><<<grid, THREADS, 0, s>>>(static_cast<const __half*>(A), static_cast<const __half*>(W), Y, M, N, K);
  else
    gemm_tc_kernel<__nv_bfloat16><<<grid, THREADS, 0, s>>>(static_cast<const __nv_bfloat16*>(A),
                                                            static_cast<const __nv_bfloat16*>(W), Y, M, N, K);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
