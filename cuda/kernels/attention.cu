// Causal attention over the paged KV cache, for prefill and decode alike: one block per (token, query
// head), 4 warps splitting the token's positions 0..pos round-robin. Each warp keeps an online softmax
// (running max, running sum, f32 accumulator of head_dim spread over its lanes); the warps' partial
// results are merged in shared memory at the end. GQA: query head h reads KV head h / (nq / nk).
// Scores are scaled by 1/sqrt(head_dim); K and V are bf16 in the pool, arithmetic is f32.

#include "kv_cache.cuh"

namespace tidepool::cuda {

namespace {
constexpr int kWarps = 4;
constexpr int kMaxPerLane = 8;  // head_dim <= 256
}  // namespace

// ---------------------------------------------------------------- kernels

// grid (T, nq), block (32 * kWarps).
__global__ void __launch_bounds__(32 * kWarps)
    paged_attention_kernel(const float* q, float* out, const uint8_t* pool, int layer, KvGeometry g, TokenTables tt,
                           int nq, int nk, int hd, float scale) {
  __shared__ float s_max[kWarps], s_sum[kWarps];
  __shared__ float s_acc[kWarps][kMaxPerLane * 32];
  const int t = blockIdx.x, h = blockIdx.y, kvh = h / (nq / nk);
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  const int pos = tt.pos[t];
  const float* qv = q + (static_cast<size_t>(t) * nq + h) * hd;  // (hd)
  float qr[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; i++) {
    const int d = lane + 32 * i;
    qr[i] = d < hd ? qv[d] * scale : 0.0f;
    acc[i] = 0.0f;
  }
  float run_max = -INFINITY, run_sum = 0.0f;
  uint8_t* base = const_cast<uint8_t*>(pool);
  for (int j = warp; j <= pos; j += kWarps) {
    const kv_t* krow = kv_row(base, g, tt, t, j, layer, 0);
    const kv_t* vrow = kv_row(base, g, tt, t, j, layer, 1);
    if (!krow || !vrow) break;  // the host checks table lengths; never read outside the table
    krow += kvh * hd;
    vrow += kvh * hd;
    float partial = 0.0f;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; i++) {
      const int d = lane + 32 * i;
      if (d < hd) partial += qr[i] * __bfloat162float(krow[d]);
    }
    const float score = warp_sum(partial);
    const float new_max = fmaxf(run_max, score);
    const float correction = __expf(run_max - new_max);
    const float p = __expf(score - new_max);
    run_sum = run_sum * correction + p;
#pragma unroll
    for (int i = 0; i < kMaxPerLane; i++) {
      const int d = lane + 32 * i;
      if (d < hd) acc[i] = acc[i] * correction + p * __bfloat162float(vrow[d]);
    }
    run_max = new_max;
  }
  if (lane == 0) {
    s_max[warp] = run_max;
    s_sum[warp] = run_sum;
  }
#pragma unroll
  for (int i = 0; i < kMaxPerLane; i++) s_acc[warp][lane + 32 * i] = acc[i];
  __syncthreads();
  float block_max = -INFINITY;
#pragma unroll
  for (int w = 0; w < kWarps; w++) block_max = fmaxf(block_max, s_max[w]);
  float weights[kWarps], total = 0.0f;
#pragma unroll
  for (int w = 0; w < kWarps; w++) {
    weights[w] = s_sum[w] > 0.0f ? __expf(s_max[w] - block_max) : 0.0f;
    total += weights[w] * s_sum[w];
  }
  float* o = out + (static_cast<size_t>(t) * nq + h) * hd;  // (hd)
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; w++) v += weights[w] * s_acc[w][d];
    o[d] = v / total;
  }
}

// ---------------------------------------------------------------- launchers

void launch_paged_attention(const float* q, float* out, const uint8_t* pool, int layer, const KvGeometry& g,
                            const TokenTables& tt, int T, int nq, int nk, int hd, cudaStream_t s) {
  KERNEL_ASSERT(q && out && pool && tt.pos && tt.pages && T >= 0);
  KERNEL_ASSERT(nq > 0 && nk > 0 && nq % nk == 0 && hd > 0 && hd <= 32 * kMaxPerLane);
  if (T == 0) return;
  const float scale = 1.0f / sqrtf(static_cast<float>(hd));
  paged_attention_kernel<<<dim3(T, nq), 32 * kWarps, 0, s>>>(q, out, pool, layer, g, tt, nq, nk, hd, scale);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
