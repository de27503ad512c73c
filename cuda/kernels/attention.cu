// Causal attention over the paged KV cache, for prefill and decode alike: one block per (token, query
// head), or for decode-sized steps kAttentionSplits blocks per (token, query head) each taking a slice of
// the positions, merged by a second kernel. Within a block 4 warps split the positions round-robin. Each warp keeps an
// online softmax (running max, running sum, f32 accumulator of head_dim spread over its lanes); the warps' partial
// results are merged in shared memory at the end. GQA: query head h reads KV head h / (nq / nk).
// Scores are scaled by 1/sqrt(head_dim); K and V are bf16 in the pool, q and the output are in the
// activation dtype A (backends/precision.h), arithmetic is f32.

#include "kv_cache.cuh"

namespace tidepool::cuda {

namespace {
constexpr int kWarps = 4;
constexpr int kMaxPerLane = 8;  // head_dim <= 256
}  // namespace

// ---------------------------------------------------------------- kernels

// Attends token t's query head h to positions [begin, end) of its sequence. Every thread returns the block's
// combined softmax state over that range: running max `m`, normaliser `l`, and the unnormalised output
// acc[d] = sum_j exp(score_j - m) * v_j[d] in s_out[d] (shared, hd floats). Empty ranges give m = -inf, l = 0.
template <typename A>
__device__ void attend_range(const A* qv, const uint8_t* pool, int layer, const KvGeometry& g, const TokenTables& tt,
                             int t, int kvh, int hd, float scale, int begin, int end, float& m, float& l,
                             float* s_out) {
  __shared__ float s_max[kWarps], s_sum[kWarps];
  __shared__ float s_acc[kWarps][kMaxPerLane * 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  float qr[kMaxPerLane], acc[kMaxPerLane];
#pragma unroll
  for (int i = 0; i < kMaxPerLane; i++) {
    const int d = lane + 32 * i;
    qr[i] = d < hd ? load_f32(qv, d) * scale : 0.0f;
    acc[i] = 0.0f;
  }
  float run_max = -INFINITY, run_sum = 0.0f;
  uint8_t* base = const_cast<uint8_t*>(pool);
  for (int j = begin + warp; j < end; j += kWarps) {
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
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; w++) v += weights[w] * s_acc[w][d];
    s_out[d] = v;
  }
  __syncthreads();
  m = block_max;
  l = total;
}

// grid (T, nq), block (32 * kWarps): the whole of positions 0..pos per block (prefill, and wide batches).
template <typename A>
__global__ void __launch_bounds__(32 * kWarps)
    paged_attention_kernel(const A* q, A* out, const uint8_t* pool, int layer, KvGeometry g, TokenTables tt, int nq,
                           int nk, int hd, float scale) {
  __shared__ float s_out[kMaxPerLane * 32];
  const int t = blockIdx.x, h = blockIdx.y, kvh = h / (nq / nk);
  const A* qv = q + (static_cast<size_t>(t) * nq + h) * hd;  // (hd)
  float m, l;
  attend_range(qv, pool, layer, g, tt, t, kvh, hd, scale, 0, tt.pos[t] + 1, m, l, s_out);
  A* o = out + (static_cast<size_t>(t) * nq + h) * hd;  // (hd)
  for (int d = threadIdx.x; d < hd; d += blockDim.x) o[d] = from_f32<A>(s_out[d] / l);
}

// grid (T, nq, kAttentionSplits), block (32 * kWarps): split `split` of token t's positions, whose length
// is read at run time, so a captured decode graph stays right as the context grows. Writes the split's
// softmax state to partials ((T, nq, splits, hd + 2): m, l, acc[hd]).
template <typename A>
__global__ void __launch_bounds__(32 * kWarps)
    paged_attention_split_kernel(const A* q, float* partials, const uint8_t* pool, int layer, KvGeometry g,
                                 TokenTables tt, int nq, int nk, int hd, float scale) {
  __shared__ float s_out[kMaxPerLane * 32];
  const int t = blockIdx.x, h = blockIdx.y, split = blockIdx.z, kvh = h / (nq / nk);
  const int n = tt.pos[t] + 1, per = (n + kAttentionSplits - 1) / kAttentionSplits;
  const int begin = min(n, split * per), end = min(n, begin + per);
  const A* qv = q + (static_cast<size_t>(t) * nq + h) * hd;  // (hd)
  float m, l;
  attend_range(qv, pool, layer, g, tt, t, kvh, hd, scale, begin, end, m, l, s_out);
  float* p = partials + ((static_cast<size_t>(t) * nq + h) * kAttentionSplits + split) * (hd + 2);  // (hd + 2)
  if (threadIdx.x == 0) {
    p[0] = m;
    p[1] = l;
  }
  for (int d = threadIdx.x; d < hd; d += blockDim.x) p[2 + d] = s_out[d];
}

// grid (T, nq), block (128): combines a token head's kAttentionSplits partial states into its output.
template <typename A>
__global__ void attention_merge_kernel(const float* partials, A* out, int nq, int hd) {
  const int t = blockIdx.x, h = blockIdx.y;
  const float* p = partials + (static_cast<size_t>(t) * nq + h) * kAttentionSplits * (hd + 2);  // (splits, hd + 2)
  float m = -INFINITY;
  for (int s = 0; s < kAttentionSplits; s++)
    if (p[s * (hd + 2) + 1] > 0.0f) m = fmaxf(m, p[s * (hd + 2)]);
  float weights[kAttentionSplits], total = 0.0f;
#pragma unroll
  for (int s = 0; s < kAttentionSplits; s++) {
    const float l = p[s * (hd + 2) + 1];
    weights[s] = l > 0.0f ? __expf(p[s * (hd + 2)] - m) : 0.0f;
    total += weights[s] * l;
  }
  A* o = out + (static_cast<size_t>(t) * nq + h) * hd;  // (hd)
  for (int d = threadIdx.x; d < hd; d += blockDim.x) {
    float v = 0.0f;
#pragma unroll
    for (int s = 0; s < kAttentionSplits; s++) v += weights[s] * p[s * (hd + 2) + 2 + d];
    o[d] = from_f32<A>(v / total);
  }
}

// ---------------------------------------------------------------- launchers

size_t attention_partials_floats(int T, int nq, int hd) {
  return static_cast<size_t>(T) * nq * kAttentionSplits * (hd + 2);
}

void launch_paged_attention(const void* q, void* out, WeightType act, const uint8_t* pool, int layer,
                            const KvGeometry& g, const TokenTables& tt, int T, int nq, int nk, int hd, float* partials,
                            cudaStream_t s) {
  KERNEL_ASSERT(q && out && pool && tt.pos && tt.pages && T >= 0);
  KERNEL_ASSERT(nq > 0 && nk > 0 && nq % nk == 0 && hd > 0 && hd <= 32 * kMaxPerLane);
  if (T == 0) return;
  const float scale = 1.0f / sqrtf(static_cast<float>(hd));
  // A decode step has one query per sequence: (T, nq) blocks leave most SMs idle while each block walks the
  // whole context, so the positions are split over kAttentionSplits blocks and merged (flash-decoding).
  dispatch_weight(act, [&](auto tag) {
    using A = decltype(tag);
    const A* qa = static_cast<const A*>(q);
    A* oa = static_cast<A*>(out);
    if (partials && T <= kAttentionSplitMaxTokens) {
      paged_attention_split_kernel<A>
          <<<dim3(T, nq, kAttentionSplits), 32 * kWarps, 0, s>>>(qa, partials, pool, layer, g, tt, nq, nk, hd, scale);
      LAUNCH_CHECK();
      attention_merge_kernel<A><<<dim3(T, nq), 128, 0, s>>>(partials, oa, nq, hd);
    } else {
      paged_attention_kernel<A><<<dim3(T, nq), 32 * kWarps, 0, s>>>(qa, oa, pool, layer, g, tt, nq, nk, hd, scale);
    }
  });
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
