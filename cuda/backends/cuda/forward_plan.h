// How one forward chunk's activations are laid out in the scratch region. The layout depends only on the
// model's dimensions and the chunk size, so a captured decode graph sees the same addresses every replay.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../../kernels/kernels.h"
#include "../../src/model_config.h"

namespace tidepool::cuda {

constexpr int kMaxBatchTokens = 65536;  // tokens in one forward call (metadata capacity)
constexpr int kMaxChunkTokens = 2048;   // tokens per forward chunk (all layers) at most
constexpr int kLogitRows = 32;          // logit rows computed per lm_head pass
constexpr int kMaxGraphBatch = 32;      // decode batches up to this size are captured as graphs

struct ChunkViews {
  float* x = nullptr;     // (C, hidden) residual stream
  float* h = nullptr;     // (C, hidden) normed input / projection output
  float* q = nullptr;     // (C, heads*head_dim)
  float* att = nullptr;   // (C, heads*head_dim) attention output
  float* k = nullptr;     // (C, kv_heads*head_dim)
  float* v = nullptr;     // (C, kv_heads*head_dim)
  float* gate = nullptr;  // (C, intermediate)
  float* up = nullptr;    // (C, intermediate)
  void* xh = nullptr;     // (C, max(hidden, q_dim, intermediate)) half copy of a GEMM input
  float* rows = nullptr;  // (kLogitRows, hidden) normed rows whose logits are wanted
  float* logits = nullptr;  // (kLogitRows, vocab)
  float* attn_partials = nullptr;  // split-attention state of a decode step (attention_partials_floats)
  size_t bytes = 0;
};

inline size_t align_256(size_t v) { return (v + 255) / 256 * 256; }

// Lays out C tokens at `base` (may be null to just measure).
inline ChunkViews chunk_views(const ModelConfig& c, int C, uint8_t* base) {
  ChunkViews v;
  size_t at = 0;
  auto take = [&](size_t bytes) {
    uint8_t* p = base ? base + at : nullptr;
    at += align_256(bytes);
    return p;
  };
  const size_t n = static_cast<size_t>(C), H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(), I = c.intermediate_size;
  v.x = reinterpret_cast<float*>(take(n * H * 4));
  v.h = reinterpret_cast<float*>(take(n * H * 4));
  v.q = reinterpret_cast<float*>(take(n * Q * 4));
  v.att = reinterpret_cast<float*>(take(n * Q * 4));
  v.k = reinterpret_cast<float*>(take(n * KV * 4));
  v.v = reinterpret_cast<float*>(take(n * KV * 4));
  v.gate = reinterpret_cast<float*>(take(n * I * 4));
  v.up = reinterpret_cast<float*>(take(n * I * 4));
  v.xh = take(n * std::max({H, Q, I}) * 2);
  v.rows = reinterpret_cast<float*>(take(kLogitRows * H * 4));
  v.logits = reinterpret_cast<float*>(take(static_cast<size_t>(kLogitRows) * c.vocab_size * 4));
  v.attn_partials = reinterpret_cast<float*>(take(attention_partials_floats(kAttentionSplitMaxTokens, c.num_heads, c.head_dim) * 4));
  v.bytes = at;
  return v;
}

}  // namespace tidepool::cuda
