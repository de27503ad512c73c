// RMSNorm fused with what comes before it, over all rows of a step in one launch:
//   embed_rmsnorm:    x = table[token] (f32 residual stream), h = rmsnorm(x) * w   (a layer's first norm)
//   residual_rmsnorm: x += y (a linear's f32 output), h = rmsnorm(x) * w             (every later norm)
// h is written in the activation dtype A, the input type of the next linear. One block per row keeps the
// row in registers (kVecs float4 per thread, so H <= 4 * kVecs * kThreads) and reads it once: statistics
// in f32, x * rsqrt(mean(x^2) + eps) * w rounded once to A, as backends/precision.h describes.

#include "act_io.cuh"

namespace tidepool::cuda {

namespace {
constexpr int kThreads = 256;
constexpr int kVecs = 8;  // float4 per thread: rows of up to 8192
}  // namespace

// ---------------------------------------------------------------- kernels

// v[j] holds elements 4 * (threadIdx.x + j * kThreads) .. + 3 of the row (zeros past H). Writes h's row.
template <typename A>
__device__ __forceinline__ void norm_row(const float4 (&v)[kVecs], int H, const void* w, WeightType wt, float eps,
                                         A* h) {
  float ss = 0.0f;
#pragma unroll
  for (int j = 0; j < kVecs; j++) ss += v[j].x * v[j].x + v[j].y * v[j].y + v[j].z * v[j].z + v[j].w * v[j].w;
  const float inv = rsqrtf(block_sum(ss) / H + eps);
#pragma unroll
  for (int j = 0; j < kVecs; j++) {
    const int i = 4 * (threadIdx.x + j * kThreads);
    if (i >= H) break;
    const float4 g = load4_weight(w, wt, i);
    store4(h, i, make_float4(g.x * (v[j].x * inv), g.y * (v[j].y * inv), g.z * (v[j].z * inv), g.w * (v[j].w * inv)));
  }
}

// grid (T), block (kThreads).
template <typename A>
__global__ void __launch_bounds__(kThreads)
    embed_rmsnorm_kernel(const void* table, WeightType tt, const int32_t* tokens, int H, const void* w, WeightType wt,
                         float eps, float* x, A* h) {
  const size_t row = blockIdx.x;
  const size_t src = static_cast<size_t>(tokens[row]) * H;  // (H) table row
  float4 v[kVecs];
#pragma unroll
  for (int j = 0; j < kVecs; j++) {
    const int i = 4 * (threadIdx.x + j * kThreads);
    v[j] = i < H ? load4_weight(table, tt, src + i) : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (i < H) store4(x + row * H, i, v[j]);
  }
  norm_row(v, H, w, wt, eps, h + row * H);
}

// grid (T), block (kThreads).
template <typename A>
__global__ void __launch_bounds__(kThreads)
    residual_rmsnorm_kernel(float* x, const float* y, int ldy, int H, const void* w, WeightType wt, float eps, A* h) {
  const size_t row = blockIdx.x;
  float4 v[kVecs];
#pragma unroll
  for (int j = 0; j < kVecs; j++) {
    const int i = 4 * (threadIdx.x + j * kThreads);
    v[j] = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
    if (i >= H) continue;
    const float4 a = load4_act(x + row * H, i), b = load4_act(y + row * ldy, i);
    v[j] = make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
    store4(x + row * H, i, v[j]);
  }
  norm_row(v, H, w, wt, eps, h + row * H);
}

// ---------------------------------------------------------------- launchers

static void check_norm_shape(int T, int H) {
  KERNEL_ASSERT(T >= 0 && H > 0 && H % 8 == 0 && H <= 4 * kVecs * kThreads);
}

void launch_embed_rmsnorm(const void* table, WeightType table_type, const int32_t* tokens, int T, int H,
                          const void* norm, WeightType norm_type, float eps, float* x, void* h, WeightType act,
                          cudaStream_t s) {
  KERNEL_ASSERT(table && tokens && norm && x && h);
  check_norm_shape(T, H);
  if (T == 0) return;
  dispatch_act(act, [&](auto tag) {
    using A = decltype(tag);
    embed_rmsnorm_kernel<A>
        <<<T, kThreads, 0, s>>>(table, table_type, tokens, H, norm, norm_type, eps, x, static_cast<A*>(h));
  });
  LAUNCH_CHECK();
}

void launch_residual_rmsnorm(float* x, const float* y, int ldy, int T, int H, const void* norm, WeightType norm_type,
                             float eps, void* h, WeightType act, cudaStream_t s) {
  KERNEL_ASSERT(x && y && norm && h && ldy >= H && ldy % 4 == 0);
  KERNEL_ASSERT(reinterpret_cast<uintptr_t>(y) % 16 == 0);
  check_norm_shape(T, H);
  if (T == 0) return;
  dispatch_act(act, [&](auto tag) {
    using A = decltype(tag);
    residual_rmsnorm_kernel<A><<<T, kThreads, 0, s>>>(x, y, ldy, H, norm, norm_type, eps, static_cast<A*>(h));
  });
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
