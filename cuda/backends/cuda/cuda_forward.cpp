// CudaBackend::forward: upload the batch's metadata once, then run the layers over chunks of tokens
// (each chunk writes its K/V into the pool before the next chunk attends to it), and compute logits only
// for the wanted rows, kLogitRows at a time. Pure decode batches (one token per sequence, up to
// kMaxGraphBatch) replay a CUDA graph (cuda_graphs.cpp); other shapes run eagerly.
//
// A layer is 10 launches for a decode step of a half-precision model (decode_step_launches): the Q/K/V
// group GEMM, bias + RoPE + KV write, attention (split and merge), the O GEMM, residual add + norm, the
// gate/up group GEMM, SwiGLU, the down GEMM, residual add + the next norm. Steps of more than 32 tokens
// (prefill) run the same loop with the fused tensor-core GEMM (gemm_tc.cu) in place of the skinny one and
// flash attention (flash_prefill.cu) in place of the split decode attention. Activations are stored as
// backends/precision.h says; the CPU backend can emulate exactly those roundings.
#include <cstring>
#include <initializer_list>

#include "../../src/errors.h"
#include "../../src/model.h"
#include "../precision.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "forward_plan.h"

namespace tidepool::cuda {

WeightType activation_type(const Model& model) {
  if (model.config.hidden_size > 8192) throw EngineError("unsupported", "CUDA backend needs hidden_size <= 8192");
  switch (activation_dtype(model)) {
    case DType::F32:
      return WeightType::F32;
    case DType::F16:
      return WeightType::F16;
    case DType::BF16:
      return WeightType::BF16;
    default:
      throw EngineError("unsupported", "tensor " + model.lm_head->name + " has dtype " + model.lm_head->dtype_label);
  }
}

int CudaBackend::chunk_tokens_for(const ModelConfig& c, WeightType act) const {
  const size_t fixed = chunk_views(c, act, 0, nullptr).bytes;
  const size_t per_token = chunk_views(c, act, 1, nullptr).bytes - fixed + 256 * 6;  // + alignment slack
  if (activation_bytes_ < fixed + per_token * kMaxGraphBatch)
    throw EngineError("out_of_memory", "scratch (" + std::to_string(scratch_bytes_) +
                                           " bytes) is too small for this model; raise --scratch-bytes");
  return static_cast<int>(std::min<size_t>(kMaxChunkTokens, (activation_bytes_ - fixed) / per_token));
}

// Fills and uploads the metadata of T tokens at fixed offsets (tokens [0,T), pos [T,2T), table offset
// [2T,3T), table length [3T,4T), logit rows [4T,4T+R), pages [5T,..)) and returns the logit rows (global
// token indices). Logit rows are stored on the device as indices local to their chunk.
void CudaBackend::upload_batch(const Slot& s, const std::vector<BatchEntry>& batch, int& T, std::vector<int>& rows) {
  const ModelConfig& c = s.model->config;
  T = 0;
  size_t P = 0;
  for (const BatchEntry& e : batch) {
    T += e.n_tokens;
    P += static_cast<size_t>(e.n_pages);
  }
  if (T > kMaxBatchTokens)
    throw EngineError("bad_request",
                      "batch of " + std::to_string(T) + " tokens exceeds " + std::to_string(kMaxBatchTokens));
  if (5 * static_cast<size_t>(T) + P > meta_ints_) throw EngineError("internal", "batch metadata exceeds its buffer");
  CUDA_TRY(cudaStreamSynchronize(compute_));  // the previous upload has been read
  int32_t* m = meta_host_;
  int t = 0;
  size_t page_at = 0;
  rows.clear();
  for (const BatchEntry& e : batch) {
    const int last = e.start_pos + e.n_tokens - 1;
    if (e.n_tokens > 0 && s.layout.table_index(last, c.num_layers - 1, 1) >= static_cast<size_t>(e.n_pages))
      throw EngineError("internal", "block table too short");
    for (int i = 0; i < e.n_pages; i++) {
      if (e.pages[i] < 0 || static_cast<size_t>(e.pages[i]) >= num_pages_)
        throw EngineError("internal", "page id out of range");
      m[5 * T + page_at + i] = e.pages[i];
    }
    for (int j = 0; j < e.n_tokens; j++, t++) {
      const int32_t tok = e.tokens[j];
      if (tok < 0 || tok >= c.vocab_size)
        throw EngineError("bad_request", "token id " + std::to_string(tok) + " out of range");
      m[t] = tok;
      m[T + t] = e.start_pos + j;
      m[2 * T + t] = static_cast<int32_t>(page_at);  // offset into the pages array
      m[3 * T + t] = e.n_pages;
      if (e.all_logits || j == e.n_tokens - 1) rows.push_back(t);
    }
    page_at += static_cast<size_t>(e.n_pages);
  }
  for (size_t r = 0; r < rows.size(); r++) m[4 * T + r] = rows[r] % s.chunk_tokens;
  CUDA_TRY(cudaMemcpyAsync(meta_dev_, m, (5 * static_cast<size_t>(T) + P) * sizeof(int32_t), cudaMemcpyHostToDevice,
                           compute_));
  d_tokens_ = meta_dev_;
  tables_.pos = meta_dev_ + T;
  tables_.table_offset = meta_dev_ + 2 * T;
  tables_.n_pages = meta_dev_ + 3 * T;
  tables_.pages = meta_dev_ + 5 * T;
  d_rows_ = meta_dev_ + 4 * T;
}

// Outputs of W_i (N_i, K) applied to X (T, K), X in the slot's activation dtype, its rows x_rows[t] when
// given. Half weights take one launch for the whole group, outputs side by side in each row of Y: the
// skinny GEMM for decode-sized steps, the fused tensor-core GEMM for longer ones (no bias: rope_kv adds
// it). f32 checkpoints take gemv per tensor, tensor i's (T, N_i) block after tensor i-1's.
CudaBackend::LinearOut CudaBackend::linear(const Slot& s, const ChunkViews& v, const void* X, const int32_t* x_rows,
                                           int T, int K, std::initializer_list<LinearIn> group, float* Y) {
  LinearOut out;
  const int count = static_cast<int>(group.size());
  if (s.act == WeightType::F32) {
    size_t at = 0;
    int i = 0;
    for (const LinearIn& in : group) {
      out.y[i] = Y + at;
      out.ld[i++] = in.n;
      launch_gemv(static_cast<const float*>(X), in.w->data, in.w->type, Y + at, T, in.n, K, compute_, x_rows);
      at += static_cast<size_t>(T) * in.n;
    }
    return out;
  }
  int cols = 0;
  for (const LinearIn& in : group) {
    if (in.w->type != s.act) throw EngineError("internal", "linear weight dtype differs from the activation dtype");
    cols += in.n;
  }
  SkinnyGroup g;
  LinearSegment segs[3];
  int at = 0;  // first column of tensor i
  for (const LinearIn& in : group) {
    out.y[g.count] = Y + at;
    out.ld[g.count] = cols;
    segs[g.count] = LinearSegment{in.w->data, in.n, nullptr, WeightType::F32, Y + at, cols};
    g.w[g.count] = in.w->data;
    g.n[g.count++] = in.n;
    at += in.n;
  }
  if (T <= kSkinnyMaxTokens) {
    launch_skinny_gemm(X, x_rows, T, K, g, s.act, Y, cols, v.split_partials, v.split_counters, compute_);
  } else {
    if (x_rows) throw EngineError("internal", "gathered rows reach the tensor-core GEMM");
    launch_gemm_fused(X, K, s.act, segs, count, T, K, WeightType::F32, compute_);
  }
  return out;
}

// Attention half of layer l for tokens [t0, t0 + n): v.h (normed) -> v.x += attention, v.h = post norm.
void CudaBackend::attention_block(const Slot& s, const ChunkViews& v, const TokenTables& tt, int l, int n) {
  const ModelConfig& c = s.model->config;
  const Layer& w = s.layers[l];
  const int H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim();
  const KvGeometry g{s.layout.block_tokens, s.layout.pages_per_block, s.layout.rows_per_page,
                     s.layout.kv_dim,       s.layout.row_bytes,       s.layout.page_bytes};
  const LinearOut qkv = linear(s, v, v.h, nullptr, n, H, {{&w.q, Q}, {&w.k, KV}, {&w.v, KV}}, v.y);
  RopeKvArgs a;
  a.q = qkv.y[0];
  a.ld_q = qkv.ld[0];
  a.k = qkv.y[1];
  a.v = qkv.y[2];
  a.ld_kv = qkv.ld[1];
  a.q_bias = w.q_bias.data;
  a.k_bias = w.k_bias.data;
  a.v_bias = w.v_bias.data;
  a.bias_type = w.q_bias.type;
  a.inv_freq = s.inv_freq;
  a.nq = c.num_heads;
  a.nk = c.num_kv_heads;
  a.hd = c.head_dim;
  a.layer = l;
  a.g = g;
  a.tt = tt;
  launch_rope_kv(a, v.q, s.act, kv_pool_, n, compute_);
  if (n > kAttentionSplitMaxTokens && flash_prefill_supported(c.num_heads, c.num_kv_heads, c.head_dim))
    launch_flash_prefill(v.q, s.act, Q, v.att, s.act, Q, kv_pool_, l, g, tt, n, c.num_heads, c.num_kv_heads, c.head_dim,
                         compute_);
  else
    launch_paged_attention(v.q, v.att, s.act, kv_pool_, l, g, tt, n, c.num_heads, c.num_kv_heads, c.head_dim,
                           v.attn_partials, compute_);
  const LinearOut o = linear(s, v, v.att, nullptr, n, Q, {{&w.o, H}}, v.y);
  launch_residual_rmsnorm(v.x, o.y[0], o.ld[0], n, H, w.post_norm.data, w.post_norm.type,
                          static_cast<float>(c.rms_norm_eps), v.h, s.act, compute_);
}

// MLP half of layer l: v.h (post-normed) -> v.x += mlp, v.h = the next norm (the next layer's input norm,
// or the final norm after the last layer).
void CudaBackend::mlp_block(const Slot& s, const ChunkViews& v, int l, int n) {
  const ModelConfig& c = s.model->config;
  const Layer& w = s.layers[l];
  const int H = c.hidden_size, I = c.intermediate_size;
  const LinearOut gu = linear(s, v, v.h, nullptr, n, H, {{&w.gate, I}, {&w.up, I}}, v.y);
  launch_swiglu(gu.y[0], gu.y[1], gu.ld[0], n, I, v.g, s.act, compute_);
  const LinearOut down = linear(s, v, v.g, nullptr, n, I, {{&w.down, H}}, v.y);
  const DeviceTensor& norm = l + 1 < c.num_layers ? s.layers[l + 1].input_norm : s.final_norm;
  launch_residual_rmsnorm(v.x, down.y[0], down.ld[0], n, H, norm.data, norm.type, static_cast<float>(c.rms_norm_eps),
                          v.h, s.act, compute_);
}

// All layers for tokens [t0, t0 + n) of the uploaded batch; ends with the final norm of every row in v.h.
void CudaBackend::run_layers(const Slot& s, const ChunkViews& v, int t0, int n) {
  const ModelConfig& c = s.model->config;
  const TokenTables tt{tables_.pos + t0, tables_.table_offset + t0, tables_.n_pages + t0, tables_.pages};
  if (s.act != WeightType::F32)  // the scratch is shared by every model: the skinny GEMM's counters may be stale
    CUDA_TRY(cudaMemsetAsync(v.split_counters, 0, kSkinnyCounterInts * sizeof(int), compute_));
  const DeviceTensor& norm = s.layers[0].input_norm;
  launch_embed_rmsnorm(s.embed.data, s.embed.type, d_tokens_ + t0, n, c.hidden_size, norm.data, norm.type,
                       static_cast<float>(c.rms_norm_eps), v.x, v.h, s.act, compute_);
  for (int l = 0; l < c.num_layers; l++) {
    attention_block(s, v, tt, l, n);
    mlp_block(s, v, l, n);
  }
}

// The lm_head on R <= kLogitRows final-normed rows of v.h (chunk-local indices on the device) into `out`
// (R, vocab), inside v.logits.
void CudaBackend::run_logits(const Slot& s, const ChunkViews& v, const int32_t* rows_dev, int R, float* out) {
  const ModelConfig& c = s.model->config;
  if (R > kSkinnyMaxTokens) throw EngineError("internal", "too many logit rows for one lm_head pass");
  linear(s, v, v.h, rows_dev, R, c.hidden_size, {{&s.lm_head, c.vocab_size}}, out);
}

// With `prep` (forward_prepared), the logit rows (at most kLogitRows) stay in v.logits, each at its own
// row, and the device sampling runs on them; else they are copied to `logits`.
void CudaBackend::forward_batch(int slot_id, const std::vector<BatchEntry>& batch, float* logits, PreparedStep* prep) {
  CUDA_TRY(cudaSetDevice(device_));
  const std::shared_ptr<Slot> slot = get_slot(slot_id);
  const Slot& s = *slot;
  const int vocab = s.model->config.vocab_size;
  int T = 0;
  std::vector<int> rows;
  upload_batch(s, batch, T, rows);
  if (T == 0) return;
  if (prep && rows.size() > static_cast<size_t>(kLogitRows))
    throw EngineError("internal", "too many logit rows to sample on the device");
  const ChunkViews v = chunk_views(s.model->config, s.act, s.chunk_tokens, activations_);
  bool decode = T <= kMaxGraphBatch && static_cast<int>(rows.size()) == T;
  for (const BatchEntry& e : batch) decode = decode && e.n_tokens == 1;
  if (!(decode && graphs_enabled_ && run_decode_graph(slot_id, s, v, T, prep ? nullptr : logits))) {
    size_t r = 0;  // next logit row
    for (int t0 = 0; t0 < T; t0 += s.chunk_tokens) {
      const int n = std::min(s.chunk_tokens, T - t0);
      run_layers(s, v, t0, n);
      size_t end = r;
      while (end < rows.size() && rows[end] < t0 + n) end++;
      for (; r < end; r += kLogitRows) {
        const int R = static_cast<int>(std::min<size_t>(kLogitRows, end - r));
        run_logits(s, v, d_rows_ + r, R, prep ? v.logits + r * vocab : v.logits);
        if (prep) continue;
        CUDA_TRY(cudaMemcpyAsync(logits + r * vocab, v.logits, static_cast<size_t>(R) * vocab * sizeof(float),
                                 cudaMemcpyDeviceToHost, compute_));
        CUDA_TRY(cudaStreamSynchronize(compute_));  // v.logits is reused by the next group
      }
    }
  }
  if (prep) run_sampling_prep(v, vocab, static_cast<int>(rows.size()), *prep);
  CUDA_TRY(cudaStreamSynchronize(compute_));
}

}  // namespace tidepool::cuda
