// The attention block's step between the Q/K/V projections and attention, in one launch: add the QKV
// bias (Qwen2), apply Hugging Face rotate_half RoPE to q and k (dimension i pairs with i + hd/2; angle
// pos * inv_freq[i] in f32, its sine and cosine in f64, as the CPU backend computes them), store q in the
// activation dtype A for attention, and write k and v as bf16 rows of the paged KV pool at each token's
// position (backends/precision.h).

#include "act_io.cuh"
#include "kv_cache.cuh"

namespace tidepool::cuda {

namespace {
constexpr int kThreads = 128;

__device__ __forceinline__ float load1_weight(const void* p, WeightType w, int i) {
  switch (w) {
    case WeightType::F32:
      return static_cast<const float*>(p)[i];
    case WeightType::F16:
      return __half2float(static_cast<const __half*>(p)[i]);
    default:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
  }
}
}  // namespace

// ---------------------------------------------------------------- kernels

// grid (T, ceil((nq + 2 nk) * hd/2 / kThreads)), block (kThreads). An item is one (head, i < hd/2) pair
// of elements i and i + hd/2: q heads first, then k heads, then v heads.
template <typename A>
__global__ void __launch_bounds__(kThreads) rope_kv_kernel(RopeKvArgs a, A* q_out, uint8_t* pool) {
  const int t = blockIdx.x, half = a.hd / 2;
  const int item = blockIdx.y * kThreads + threadIdx.x;
  if (item >= (a.nq + 2 * a.nk) * half) return;
  const int head = item / half, i = item % half;
  const int kind = head < a.nq ? 0 : head < a.nq + a.nk ? 1 : 2;  // q, k, v
  const int h = kind == 0 ? head : kind == 1 ? head - a.nq : head - a.nq - a.nk;
  const float* src = kind == 0 ? a.q + static_cast<size_t>(t) * a.ld_q
                               : (kind == 1 ? a.k : a.v) + static_cast<size_t>(t) * a.ld_kv;  // (heads * hd)
  const void* bias = kind == 0 ? a.q_bias : kind == 1 ? a.k_bias : a.v_bias;
  const int e0 = h * a.hd + i, e1 = e0 + half;
  float x0 = src[e0], x1 = src[e1];
  if (bias) {
    x0 += load1_weight(bias, a.bias_type, e0);
    x1 += load1_weight(bias, a.bias_type, e1);
  }
  const int pos = a.tt.pos[t];
  if (kind < 2) {
    double sd, cd;
    sincos(static_cast<double>(static_cast<float>(pos) * a.inv_freq[i]), &sd, &cd);
    const float c = static_cast<float>(cd), sn = static_cast<float>(sd);
    // Unfused multiplies and adds, as the CPU backend rounds them.
    const float r0 = __fsub_rn(__fmul_rn(x0, c), __fmul_rn(x1, sn)),
                r1 = __fadd_rn(__fmul_rn(x1, c), __fmul_rn(x0, sn));
    x0 = r0;
    x1 = r1;
  }
  if (kind == 0) {
    A* qt = q_out + static_cast<size_t>(t) * a.nq * a.hd;  // (nq * hd)
    qt[e0] = from_f32<A>(x0);
    qt[e1] = from_f32<A>(x1);
    return;
  }
  kv_t* row = kv_row(pool, a.g, a.tt, t, pos, a.layer, kind - 1);  // (kv_dim)
  if (!row) return;                                                // the host checks table lengths before launching
  row[e0] = from_f32<kv_t>(x0);
  row[e1] = from_f32<kv_t>(x1);
}

// ---------------------------------------------------------------- launchers

void launch_rope_kv(const RopeKvArgs& a, void* q_out, WeightType act, uint8_t* pool, int T, cudaStream_t s) {
  KERNEL_ASSERT(a.q && a.k && a.v && a.inv_freq && q_out && pool && a.tt.pos && a.tt.pages && T >= 0);
  KERNEL_ASSERT(a.nq > 0 && a.nk > 0 && a.hd > 0 && a.hd % 2 == 0 && a.layer >= 0);
  KERNEL_ASSERT(a.ld_q >= a.nq * a.hd && a.ld_kv >= a.nk * a.hd);
  KERNEL_ASSERT(a.g.kv_dim == a.nk * a.hd && a.g.row_bytes == static_cast<size_t>(a.g.kv_dim) * sizeof(kv_t));
  KERNEL_ASSERT((a.q_bias == nullptr) == (a.k_bias == nullptr) && (a.k_bias == nullptr) == (a.v_bias == nullptr));
  if (T == 0) return;
  const int items = (a.nq + 2 * a.nk) * (a.hd / 2);
  const dim3 grid(T, (items + kThreads - 1) / kThreads);
  dispatch_act(act, [&](auto tag) {
    using A = decltype(tag);
    rope_kv_kernel<A><<<grid, kThreads, 0, s>>>(a, static_cast<A*>(q_out), pool);
  });
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
