// Host-side declarations of every kernel launcher in cuda/kernels/*.cu, callable from plain C++.
// Conventions: activations are f32, row-major; weights keep their stored dtype (WeightType) and are
// row-major (out_features, in_features) as in safetensors; KV cache elements are bf16. Every launcher takes
// the stream it runs on, checks its preconditions (a failed one throws EngineError("internal")), launches
// and checks cudaGetLastError. Nothing here allocates or synchronizes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "../src/errors.h"

namespace tidepool::cuda {

enum class WeightType { F32, F16, BF16 };

inline size_t weight_type_bytes(WeightType w) { return w == WeightType::F32 ? 4 : 2; }
inline const char* weight_type_name(WeightType w) {
  return w == WeightType::F32 ? "f32" : w == WeightType::F16 ? "f16" : "bf16";
}

[[noreturn]] inline void throw_cuda_error(const char* file, int line, const char* what, cudaError_t err) {
  throw EngineError(err == cudaErrorMemoryAllocation ? "out_of_memory" : "internal",
                    std::string(file) + ":" + std::to_string(line) + ": " + what + ": " + cudaGetErrorString(err));
}
[[noreturn]] inline void fail_precondition(const char* file, int line, const char* cond) {
  throw EngineError("internal", std::string(file) + ":" + std::to_string(line) + ": precondition failed: " + cond);
}

// ---- embedding.cu ----
// out (T, H) f32 = table (vocab, H)[tokens[t]]; tokens (T) on the device, already range-checked.
void launch_embedding(const void* table, WeightType w, const int32_t* tokens, int T, int H, float* out, cudaStream_t s);

// ---- rmsnorm.cu ----
// out (R, H) = x[rows[r]] * rsqrt(mean(x[rows[r]]^2) + eps) * weight; rows (R) may be null (identity).
// x (*, H) f32, weight (H) in its dtype. out may alias x only when rows is null.
void launch_rmsnorm(const float* x, const int32_t* rows, int R, int H, const void* weight, WeightType w, float eps,
                    float* out, cudaStream_t s);

// ---- rope.cu ----
// HF rotate_half RoPE in place on q (T, nq*hd) and k (T, nk*hd) at positions pos (T); inv_freq (hd/2).
void launch_rope(float* q, float* k, const int32_t* pos, const float* inv_freq, int T, int nq, int nk, int hd,
                 cudaStream_t s);

// ---- swiglu.cu ----
// gate (n) = silu(gate) * up (n).
void launch_swiglu(float* gate, const float* up, size_t n, cudaStream_t s);

// ---- residual.cu ----
// x (n) += h (n).
void launch_residual_add(float* x, const float* h, size_t n, cudaStream_t s);

// ---- bias.cu ----
// y (T, N) += bias (N), the bias in its stored dtype (QKV bias of Qwen2).
void launch_bias_add(float* y, const void* bias, WeightType w, int T, int N, cudaStream_t s);

// ---- gemv.cu ----
// Skinny GEMM for decode: Y (T, N) f32 = X (T, K) f32 · W^T, W (N, K) any dtype. Each weight byte is read
// once for up to 8 tokens; K % 8 == 0 and W 16-byte aligned.
void launch_gemv(const float* X, const void* W, WeightType w, float* Y, int T, int N, int K, cudaStream_t s);

// ---- gemm_tc.cu ----
// out (n) = x (n) rounded to w (F16 or BF16): the A operand of the tensor-core GEMM.
void launch_cast_half(const float* x, void* out, WeightType w, size_t n, cudaStream_t s);
// Tensor-core GEMM: Y (M, N) f32 = A (M, K) · W^T, A and W (N, K) both F16 or both BF16, f32 accumulation
// (launch_gemm_fused with one segment). K % 8 == 0, A and W 16-byte aligned.
void launch_gemm_tc(const void* A, const void* W, WeightType w, float* Y, int M, int N, int K, cudaStream_t s);
// One weight tensor of a fused projection; its columns follow the previous segment's.
struct LinearSegment {
  const void* weight = nullptr;  // (n, K) in the GEMM's half type, as stored
  int n = 0;
  const void* bias = nullptr;    // (n) in bias_type, or null
  WeightType bias_type = WeightType::F32;
  void* out = nullptr;           // (M, ld_out) in the GEMM's out_type: columns [0, n) of each row
  int ld_out = 0;
};
// Y_s = A (M, K) · W_s^T (+ bias_s) for 1..3 segments in one launch (fused Q/K/V or gate/up, weights read
// where they lie). A (M, lda) in w (F16 or BF16) like every W_s; outputs f32 or w's type. K and lda
// multiples of 8, A and weights 16-byte aligned. Tile shapes are chosen per launch (gemm_tc_pick.h).
void launch_gemm_fused(const void* A, int lda, WeightType w, const LinearSegment* segs, int count, int M, int K,
                       WeightType out_type, cudaStream_t s);

// ---- kv_cache.cu and attention.cu ----
// Where a KV row lives (mirrors tidepool::KvLayout; page tables are per token, on the device).
struct KvGeometry {
  int block_tokens = 0;
  int pages_per_block = 0;
  int rows_per_page = 0;
  int kv_dim = 0;
  size_t row_bytes = 0;
  size_t page_bytes = 0;
};
// Per computed token (all device arrays of T): absolute position, and its sequence's block table as a
// slice [table_offset, table_offset + n_pages) of `pages`.
struct TokenTables {
  const int32_t* pos = nullptr;
  const int32_t* table_offset = nullptr;
  const int32_t* n_pages = nullptr;
  const int32_t* pages = nullptr;
};

// Writes k, v (T, kv_dim) f32 as bf16 rows of `layer` into the pool (num_pages, page_bytes).
void launch_kv_write(const float* k, const float* v, int T, int layer, const KvGeometry& g, const TokenTables& tt,
                     uint8_t* pool, cudaStream_t s);
// Copies whole pages: out (n, page_bytes) = pool[pages[i]] (gather) and back (scatter); bit-exact.
void launch_gather_pages(const uint8_t* pool, const int32_t* pages, int n, size_t page_bytes, uint8_t* out, cudaStream_t s);
void launch_scatter_pages(const uint8_t* in, const int32_t* pages, int n, size_t page_bytes, uint8_t* pool, cudaStream_t s);

// Causal attention over the paged cache: out (T, nq*hd) for q (T, nq*hd); token t attends to positions
// 0..pos[t] of its own sequence. GQA: query head h reads KV head h / (nq / nk). Serves prefill and decode.
// With `partials` (attention_partials_floats(T, nq, hd) floats) and T <= kAttentionSplitMaxTokens, each
// token's positions are split over kAttentionSplits blocks (decode); null partials: one block per head.
constexpr int kAttentionSplits = 16;
constexpr int kAttentionSplitMaxTokens = 32;
size_t attention_partials_floats(int T, int nq, int hd);
void launch_paged_attention(const float* q, float* out, const uint8_t* pool, int layer, const KvGeometry& g,
                            const TokenTables& tt, int T, int nq, int nk, int hd, float* partials, cudaStream_t s);

// ---- flash_prefill.cu ----
// Causal attention for prefill-sized steps on tensor cores (flash attention): out (T, out_ld) for q (T,
// q_ld), head h of token t at [t * ld + h * hd] (q may sit inside a fused QKV buffer); the same pool,
// tables and GQA mapping as launch_paged_attention. q and out f32, bf16 or f16 (WeightType names the
// element type); arithmetic: bf16 operands, f32 accumulation and softmax. Needs flash_prefill_supported.
bool flash_prefill_supported(int nq, int nk, int hd);  // hd 64 or 128, nq / nk <= 64
void launch_flash_prefill(const void* q, WeightType q_type, int q_ld, void* out, WeightType out_type, int out_ld,
                          const uint8_t* pool, int layer, const KvGeometry& g, const TokenTables& tt, int T, int nq, int nk,
                          int hd, cudaStream_t s);

// ---- argmax.cu ----
// out (R) = argmax of each logits row (R, V); ties go to the lowest index, as the host sampler does.
void launch_argmax(const float* logits, int R, int V, int32_t* out, cudaStream_t s);

}  // namespace tidepool::cuda
