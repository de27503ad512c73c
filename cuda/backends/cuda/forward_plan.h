// How one forward chunk's activations are laid out in the scratch region. The layout depends only on the
// model's dimensions and the chunk size, so a captured decode graph sees the same addresses every replay.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../../kernels/kernels.h"
#include "../../kernels/sampling_prep.h"
#include "../../src/model.h"
#include "../../src/model_config.h"

namespace tidepool::cuda {

constexpr int kMaxBatchTokens = 65536;                // tokens in one forward call (metadata capacity)
constexpr int kMaxChunkTokens = 2048;                 // tokens per forward chunk (all layers) at most
constexpr int kLogitRows = 32;                        // logit rows computed per lm_head pass
constexpr int kMaxGraphBatch = 32;                    // decode batches up to this size are captured as graphs
constexpr size_t kPrepListBytes = size_t(512) << 10;  // a step's logit_bias, penalty and mask id lists

// One chunk's activations. Storage follows backends/precision.h: the residual stream and linear outputs
// are f32; every input of a linear layer or of attention is in the activation dtype `act` (2 or 4 bytes).
struct ChunkViews {
  float* x = nullptr;               // (C, hidden) residual stream
  void* h = nullptr;                // (C, hidden) act: a norm's output, the next linear's input; after the last
                                    //   layer the final norm's output, the lm_head's input
  float* y = nullptr;               // (C, max(q_dim + 2 kv_dim, 2 intermediate, hidden)) linear outputs; a group's
                                    //   outputs side by side in each row, or one (C, N_i) block after another
  void* q = nullptr;                // (C, heads*head_dim) act: roped queries
  void* att = nullptr;              // (C, heads*head_dim) act: attention output
  void* g = nullptr;                // (C, intermediate) act: SwiGLU output, the down projection's input
  float* logits = nullptr;          // (kLogitRows, vocab)
  float* attn_partials = nullptr;   // split-attention state of a decode step (attention_partials_floats)
  float* split_partials = nullptr;  // skinny GEMM split-K partial sums (skinny_workspace_floats, 32 tokens)
  int* split_counters = nullptr;    // (kSkinnyCounterInts) zeroed at the start of every chunk
  // Sampling prepared on the device (cuda_sampling.cpp); outside every captured graph.
  float* processed = nullptr;          // (kLogitRows, vocab) stage 1's rows
  PrepCandidates* prep_out = nullptr;  // (kLogitRows) stage 2's answers
  uint8_t* prep_in = nullptr;          // (prep_input_bytes) the step's inputs: grammar masks, PrepRows, id lists
  size_t bytes = 0;
};

inline size_t align_256(size_t v) { return (v + 255) / 256 * 256; }

// The dtype activations are stored in between layers (backends/precision.h). Throws
// EngineError("unsupported") for models the forward pass cannot run: linear weights of mixed dtypes,
// hidden sizes past the fused norms' 8192.
WeightType activation_type(const Model& model);

// Floats of skinny split-K workspace the model's largest projection needs (0 for f32 checkpoints).
inline size_t split_partials_floats(const ModelConfig& c, WeightType act) {
  if (act == WeightType::F32) return 0;
  const int H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(), I = c.intermediate_size;
  const int qkv[] = {Q, KV, KV}, o[] = {H}, gate_up[] = {I, I}, down[] = {H}, lm_head[] = {c.vocab_size};
  const int T = kSkinnyMaxTokens;
  return std::max({skinny_workspace_floats(qkv, 3, H, T), skinny_workspace_floats(o, 1, Q, T),
                   skinny_workspace_floats(gate_up, 2, H, T), skinny_workspace_floats(down, 1, I, T),
                   skinny_workspace_floats(lm_head, 1, H, T)});
}

// Bytes of one step's device-sampling inputs: a grammar mask and a PrepRow per logit row, and the lists.
inline size_t prep_input_bytes(int vocab) {
  const size_t mask_words = (static_cast<size_t>(vocab) + 63) / 64;
  return kLogitRows * (mask_words * sizeof(uint64_t) + sizeof(PrepRow)) + kPrepListBytes;
}

// Lays out C tokens at `base` (may be null to just measure).
inline ChunkViews chunk_views(const ModelConfig& c, WeightType act, int C, uint8_t* base) {
  ChunkViews v;
  size_t at = 0;
  auto take = [&](size_t bytes) {
    uint8_t* p = base ? base + at : nullptr;
    at += align_256(bytes);
    return p;
  };
  const size_t n = static_cast<size_t>(C), H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(), I = c.intermediate_size;
  const size_t a = weight_type_bytes(act);
  v.x = reinterpret_cast<float*>(take(n * H * 4));
  v.h = take(n * H * a);
  v.y = reinterpret_cast<float*>(take(n * std::max({Q + 2 * KV, 2 * I, H}) * 4));
  v.q = take(n * Q * a);
  v.att = take(n * Q * a);
  v.g = take(n * I * a);
  v.logits = reinterpret_cast<float*>(take(static_cast<size_t>(kLogitRows) * c.vocab_size * 4));
  v.attn_partials =
      reinterpret_cast<float*>(take(attention_partials_floats(kAttentionSplitMaxTokens, c.num_heads, c.head_dim) * 4));
  v.split_partials = reinterpret_cast<float*>(take(split_partials_floats(c, act) * 4));
  v.split_counters = reinterpret_cast<int*>(take(kSkinnyCounterInts * sizeof(int)));
  v.processed = reinterpret_cast<float*>(take(static_cast<size_t>(kLogitRows) * c.vocab_size * 4));
  v.prep_out = reinterpret_cast<PrepCandidates*>(take(kLogitRows * sizeof(PrepCandidates)));
  v.prep_in = take(prep_input_bytes(c.vocab_size));
  v.bytes = at;
  return v;
}

// Kernel launches (memsets included) of one decode step of T <= kMaxGraphBatch tokens, as run_layers and
// run_logits issue them: the nodes of its CUDA graph (cuda_backend_test compares them).
inline int decode_step_launches(const ModelConfig& c, WeightType act, int T) {
  const int L = c.num_layers;
  if (act != WeightType::F32)      // memset, embed+norm, per layer 10 (QKV, RoPE+KV, attention 2, O, residual+norm,
    return 3 + 10 * L;             // gate/up, SwiGLU, down, residual+norm), lm_head
  const int passes = (T + 7) / 8;  // gemv: one launch per tensor and 8 tokens
  return 1 + L * (7 * passes + 6) + passes;  // embed+norm; 7 gemv, RoPE+KV, attention 2, SwiGLU, 2 norms; lm_head
}

}  // namespace tidepool::cuda
