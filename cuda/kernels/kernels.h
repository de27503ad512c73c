// Host-side declarations of every kernel launcher in cuda/kernels/*.cu, callable from plain C++.
// Conventions: row-major everywhere; weights keep their stored dtype (WeightType) and are (out_features,
// in_features) as in safetensors; KV cache elements are bf16. Activations that feed a linear layer or
// attention are in the activation dtype (a WeightType: the linear weights' dtype, F32 for f32
// checkpoints); the residual stream and linear outputs are f32 (backends/precision.h). Every launcher takes
// the stream it runs on, checks its preconditions (a failed one throws EngineError("internal")), launches
// and checks cudaGetLastError. Nothing here allocates or synchronizes.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "../src/errors.h"

namespace tidepool::cuda {

enum class WeightType { F32, F16, BF16 };

inline size_t weight_type_bytes(WeightType w) { return w == WeightType::F32 ? 4 : 2; }
inline const char* weight_type_name(WeightType w) {
  return w == WeightType::F32 ? "f32" : w == WeightType::F16 ? "f16" : "bf16";
}

// Errors after which the CUDA context is unusable: every later call fails the same way until the process
// exits (driver_types.h: "the process must be terminated and relaunched"), plus uncorrectable hardware
// errors. They become the protocol's `device_lost`, on which the engine exits for its supervisor to restart.
inline bool is_sticky_cuda_error(cudaError_t err) {
  switch (err) {
    case cudaErrorIllegalAddress:
    case cudaErrorLaunchTimeout:
    case cudaErrorAssert:
    case cudaErrorHardwareStackError:
    case cudaErrorIllegalInstruction:
    case cudaErrorMisalignedAddress:
    case cudaErrorInvalidAddressSpace:
    case cudaErrorInvalidPc:
    case cudaErrorLaunchFailure:
    case cudaErrorTensorMemoryLeak:
    case cudaErrorContained:
    case cudaErrorMpsClientTerminated:
    case cudaErrorExternalDevice:
    case cudaErrorECCUncorrectable:
    case cudaErrorNvlinkUncorrectable:
    case cudaErrorContextIsDestroyed:
    case cudaErrorUnknown:
      return true;
    default:
      return false;
  }
}

// TIDEPOOL_CUDA_SYNC_LAUNCHES=1: every launcher synchronises the device after its launch, so a fault is
// reported by the launcher of the kernel that raised it (slow; decode graphs are off in this mode).
inline bool sync_launches() {
  static const bool on = [] {
    const char* v = std::getenv("TIDEPOOL_CUDA_SYNC_LAUNCHES");
    return v && *v && std::string(v) != "0";
  }();
  return on;
}

[[noreturn]] inline void throw_cuda_error(const char* file, int line, const char* what, cudaError_t err) {
  const bool sticky = is_sticky_cuda_error(err);
  std::string message = std::string(file) + ":" + std::to_string(line) + ": " + what + ": " + cudaGetErrorName(err) +
                        " (" + cudaGetErrorString(err) + ")";
  // Without synchronous launches a device fault surfaces at the next launch or synchronisation, which is
  // not the kernel that raised it.
  if (sticky && !sync_launches())
    message += "; raised by earlier device work, rerun with TIDEPOOL_CUDA_SYNC_LAUNCHES=1 to name the kernel";
  throw EngineError(sticky ? kDeviceLost : err == cudaErrorMemoryAllocation ? "out_of_memory" : "internal", message);
}
[[noreturn]] inline void fail_precondition(const char* file, int line, const char* cond) {
  throw EngineError("internal", std::string(file) + ":" + std::to_string(line) + ": precondition failed: " + cond);
}

// ---- fused_norm.cu ----
// RMSNorm fused with what precedes it, one launch for all T rows; h (T, H) is written in the activation
// dtype `act` (F32, F16 or BF16: the linear weights' dtype), statistics are f32. H % 8 == 0, H <= 8192.
// x (T, H) f32 = table (vocab, H)[tokens[t]]; h = rmsnorm(x) * norm. tokens (T) already range-checked.
void launch_embed_rmsnorm(const void* table, WeightType table_type, const int32_t* tokens, int T, int H,
                          const void* norm, WeightType norm_type, float eps, float* x, void* h, WeightType act,
                          cudaStream_t s);
// x (T, H) f32 += y (T rows of stride ldy, f32); h = rmsnorm(x) * norm.
void launch_residual_rmsnorm(float* x, const float* y, int ldy, int T, int H, const void* norm, WeightType norm_type,
                             float eps, void* h, WeightType act, cudaStream_t s);

// ---- swiglu.cu ----
// out (T, I) in `act` = silu(gate) * up; gate and up are f32 rows of stride ld (16-byte aligned, I % 8 == 0).
void launch_swiglu(const float* gate, const float* up, int ld, int T, int I, void* out, WeightType act, cudaStream_t s);

// ---- gemv.cu ----
// GEMM of f32 checkpoints: Y (T, N) f32 = X (T, K) f32 · W^T, W (N, K) any dtype. Each weight byte is read
// once for up to 8 tokens; K % 8 == 0 and W 16-byte aligned. Row t of X is X[x_rows[t]] when x_rows (T,
// device) is given.
void launch_gemv(const float* X, const void* W, WeightType w, float* Y, int T, int N, int K, cudaStream_t s,
                 const int32_t* x_rows = nullptr);

// ---- skinny_gemm.cu ----
// Decode GEMM for 1..32 tokens (tensor cores, each weight byte read once per launch): for a group of up
// to 3 weight tensors W_i (n_i, K) with the same K, Y (T, ldy) f32 gets X (T, K) · W_i^T in columns
// [n_0 + .. + n_{i-1}, + n_i). X and every W_i are F16, or all BF16; 16-byte aligned, K % 8 == 0. Row t of
// X is X[x_rows[t]] when x_rows (T, device) is given. When the weights' shapes call for split-K,
// `workspace` holds skinny_workspace_floats(n, count, K, T) floats and `counters`
// (kSkinnyCounterInts, zero before the first launch) are left at zero by every launch.
constexpr int kSkinnyMaxTokens = 32;
constexpr int kSkinnyCounterInts = 1024;
struct SkinnyGroup {
  const void* w[3] = {};
  int n[3] = {};
  int count = 0;
};
size_t skinny_workspace_floats(const int* n, int count, int K, int T);
void launch_skinny_gemm(const void* X, const int32_t* x_rows, int T, int K, const SkinnyGroup& g, WeightType w,
                        float* Y, int ldy, float* workspace, int* counters, cudaStream_t s);

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
  const void* bias = nullptr;  // (n) in bias_type, or null
  WeightType bias_type = WeightType::F32;
  void* out = nullptr;  // (M, ld_out) in the GEMM's out_type: columns [0, n) of each row
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
void launch_gather_pages(const uint8_t* pool, const int32_t* pages, int n, size_t page_bytes, uint8_t* out,
                         cudaStream_t s);
void launch_scatter_pages(const uint8_t* in, const int32_t* pages, int n, size_t page_bytes, uint8_t* pool,
                          cudaStream_t s);

// Causal attention over the paged cache: out (T, nq*hd) for q (T, nq*hd); token t attends to positions
// 0..pos[t] of its own sequence. GQA: query head h reads KV head h / (nq / nk). Serves prefill and decode.
// With `partials` (attention_partials_floats(T, nq, hd) floats) and T <= kAttentionSplitMaxTokens, each
// token's positions are split over kAttentionSplits blocks (decode); null partials: one block per head.
constexpr int kAttentionSplits = 16;
constexpr int kAttentionSplitMaxTokens = 32;
size_t attention_partials_floats(int T, int nq, int hd);
// q and out are in the activation dtype `act`.
void launch_paged_attention(const void* q, void* out, WeightType act, const uint8_t* pool, int layer,
                            const KvGeometry& g, const TokenTables& tt, int T, int nq, int nk, int hd, float* partials,
                            cudaStream_t s);

// ---- rope_kv.cu ----
// Between the Q/K/V projections and attention, per token t: q, k, v (+ bias) from f32 rows, RoPE on q and
// k, q stored in the activation dtype to q_out (T, nq*hd), k and v written as bf16 rows of `layer` into
// the pool at position tt.pos[t].
struct RopeKvArgs {
  const float* q = nullptr;  // (T, ld_q): columns [0, nq*hd)
  int ld_q = 0;
  const float* k = nullptr;  // (T, ld_kv): columns [0, nk*hd)
  const float* v = nullptr;  // (T, ld_kv)
  int ld_kv = 0;
  const void* q_bias = nullptr;  // (nq*hd), (nk*hd), (nk*hd) in bias_type; all three or none
  const void* k_bias = nullptr;
  const void* v_bias = nullptr;
  WeightType bias_type = WeightType::F32;
  const float* inv_freq = nullptr;  // (hd/2)
  int nq = 0, nk = 0, hd = 0, layer = 0;
  KvGeometry g;
  TokenTables tt;
};
void launch_rope_kv(const RopeKvArgs& a, void* q_out, WeightType act, uint8_t* pool, int T, cudaStream_t s);

// ---- flash_prefill.cu ----
// Causal attention for prefill-sized steps on tensor cores (flash attention): out (T, out_ld) for q (T,
// q_ld), head h of token t at [t * ld + h * hd] (q may sit inside a fused QKV buffer); the same pool,
// tables and GQA mapping as launch_paged_attention. q and out f32, bf16 or f16 (WeightType names the
// element type); arithmetic: bf16 operands, f32 accumulation and softmax. Needs flash_prefill_supported.
bool flash_prefill_supported(int nq, int nk, int hd);  // hd 64 or 128, nq / nk <= 64
void launch_flash_prefill(const void* q, WeightType q_type, int q_ld, void* out, WeightType out_type, int out_ld,
                          const uint8_t* pool, int layer, const KvGeometry& g, const TokenTables& tt, int T, int nq,
                          int nk, int hd, cudaStream_t s);

// ---- argmax.cu ----
// out (R) = argmax of each logits row (R, V); ties go to the lowest index, as the host sampler does.
void launch_argmax(const float* logits, int R, int V, int32_t* out, cudaStream_t s);

}  // namespace tidepool::cuda
