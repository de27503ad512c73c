// CudaBackend::forward: upload the batch's metadata once, then run the layers over chunks of tokens
// (each chunk writes its K/V into the pool before the next chunk attends to it), and compute logits only
// for the wanted rows, kLogitRows at a time. Steps of more than kAttentionSplitMaxTokens tokens (prefill)
// run Q/K/V and gate/up as fused tensor-core GEMMs and attention as flash attention (flash_prefill.cu);
// shorter ones keep the per-tensor linears and the split decode attention. Pure decode batches (one token
// per sequence, up to kMaxGraphBatch) replay a CUDA graph captured per (slot, batch size); other shapes run
// eagerly.
#include <cstring>
#include <initializer_list>

#include "../../src/errors.h"
#include "../../src/model.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "forward_plan.h"

namespace tidepool::cuda {

int CudaBackend::chunk_tokens_for(const ModelConfig& c) const {
  const size_t fixed = chunk_views(c, 0, nullptr).bytes;
  const size_t per_token = chunk_views(c, 1, nullptr).bytes - fixed + 256 * 9;  // + alignment slack
  if (activation_bytes_ < fixed + per_token * kMaxGraphBatch)
    throw EngineError("out_of_memory", "scratch (" + std::to_string(scratch_bytes_) +
                                           " bytes) is too small for this model; raise TIDEPOOL_CUDA_SCRATCH_BYTES");
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
  if (T > kMaxBatchTokens) throw EngineError("bad_request", "batch of " + std::to_string(T) + " tokens exceeds " + std::to_string(kMaxBatchTokens));
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
      if (e.pages[i] < 0 || static_cast<size_t>(e.pages[i]) >= num_pages_) throw EngineError("internal", "page id out of range");
      m[5 * T + page_at + i] = e.pages[i];
    }
    for (int j = 0; j < e.n_tokens; j++, t++) {
      const int32_t tok = e.tokens[j];
      if (tok < 0 || tok >= c.vocab_size) throw EngineError("bad_request", "token id " + std::to_string(tok) + " out of range");
      m[t] = tok;
      m[T + t] = e.start_pos + j;
      m[2 * T + t] = static_cast<int32_t>(page_at);  // offset into the pages array
      m[3 * T + t] = e.n_pages;
      if (e.all_logits || j == e.n_tokens - 1) rows.push_back(t);
    }
    page_at += static_cast<size_t>(e.n_pages);
  }
  for (size_t r = 0; r < rows.size(); r++) m[4 * T + r] = rows[r] % s.chunk_tokens;
  CUDA_TRY(cudaMemcpyAsync(meta_dev_, m, (5 * static_cast<size_t>(T) + P) * sizeof(int32_t), cudaMemcpyHostToDevice, compute_));
  d_tokens_ = meta_dev_;
  tables_.pos = meta_dev_ + T;
  tables_.table_offset = meta_dev_ + 2 * T;
  tables_.n_pages = meta_dev_ + 3 * T;
  tables_.pages = meta_dev_ + 5 * T;
  d_rows_ = meta_dev_ + 4 * T;
}

// Y (T, N) = X (T, K) · W^T (+ bias): the skinny kernel for decode-sized T or f32 weights, else tensor cores.
void CudaBackend::linear(const ChunkViews& v, const float* X, const DeviceTensor& W, const DeviceTensor* bias, float* Y,
                         int T, int N, int K) {
  if (W.type == WeightType::F32 || T <= 8) {
    launch_gemv(X, W.data, W.type, Y, T, N, K, compute_);
  } else {
    launch_cast_half(X, v.xh, W.type, static_cast<size_t>(T) * K, compute_);
    launch_gemm_tc(v.xh, W.data, W.type, Y, T, N, K, compute_);
  }
  if (bias && bias->data) launch_bias_add(Y, bias->data, bias->type, T, N, compute_);
}

namespace {

// One output of a fused projection: weight, optional bias, destination (T, n) f32.
struct FusedOutput {
  const DeviceTensor* weight;
  const DeviceTensor* bias;
  float* out;
  int n;
};

// Prefill-sized steps (more tokens than a decode batch) with half weights of one type: the input is cast
// once and the projections run as one tensor-core launch over the slot's weight tensors (fused Q/K/V,
// gate/up). Returns false, having launched nothing, where that does not apply.
bool linear_fused(cudaStream_t s, const ChunkViews& v, const float* X, int T, int K, std::initializer_list<FusedOutput> outs) {
  const WeightType w = outs.begin()->weight->type;
  if (T <= kAttentionSplitMaxTokens || w == WeightType::F32) return false;
  LinearSegment segs[3];
  int count = 0;
  for (const FusedOutput& o : outs) {
    if (o.weight->type != w) return false;
    const bool has_bias = o.bias && o.bias->data;
    segs[count++] = {o.weight->data, o.n, has_bias ? o.bias->data : nullptr, has_bias ? o.bias->type : WeightType::F32, o.out, o.n};
  }
  launch_cast_half(X, v.xh, w, static_cast<size_t>(T) * K, s);
  launch_gemm_fused(v.xh, K, w, segs, count, T, K, WeightType::F32, s);
  return true;
}

}  // namespace

// All layers for tokens [t0, t0 + n) of the uploaded batch; the residual stream ends in v.x.
void CudaBackend::run_layers(const Slot& s, const ChunkViews& v, int t0, int n) {
  const ModelConfig& c = s.model->config;
  const int H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(), I = c.intermediate_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  const KvGeometry g{s.layout.block_tokens, s.layout.pages_per_block, s.layout.rows_per_page, s.layout.kv_dim,
                     s.layout.row_bytes, s.layout.page_bytes};
  const TokenTables tt{tables_.pos + t0, tables_.table_offset + t0, tables_.n_pages + t0, tables_.pages};
  launch_embedding(s.embed.data, s.embed.type, d_tokens_ + t0, n, H, v.x, compute_);
  for (int l = 0; l < c.num_layers; l++) {
    const Layer& w = s.layers[l];
    launch_rmsnorm(v.x, nullptr, n, H, w.input_norm.data, w.input_norm.type, eps, v.h, compute_);
    if (!linear_fused(compute_, v, v.h, n, H, {{&w.q, &w.q_bias, v.q, Q}, {&w.k, &w.k_bias, v.k, KV}, {&w.v, &w.v_bias, v.v, KV}})) {
      linear(v, v.h, w.q, &w.q_bias, v.q, n, Q, H);
      linear(v, v.h, w.k, &w.k_bias, v.k, n, KV, H);
      linear(v, v.h, w.v, &w.v_bias, v.v, n, KV, H);
    }
    launch_rope(v.q, v.k, tt.pos, s.inv_freq, n, c.num_heads, c.num_kv_heads, c.head_dim, compute_);
    launch_kv_write(v.k, v.v, n, l, g, tt, kv_pool_, compute_);
    if (n > kAttentionSplitMaxTokens && flash_prefill_supported(c.num_heads, c.num_kv_heads, c.head_dim))
      launch_flash_prefill(v.q, WeightType::F32, Q, v.att, WeightType::F32, Q, kv_pool_, l, g, tt, n, c.num_heads,
                           c.num_kv_heads, c.head_dim, compute_);
    else
      launch_paged_attention(v.q, v.att, kv_pool_, l, g, tt, n, c.num_heads, c.num_kv_heads, c.head_dim, v.attn_partials, compute_);
    linear(v, v.att, w.o, nullptr, v.h, n, H, Q);
    launch_residual_add(v.x, v.h, static_cast<size_t>(n) * H, compute_);
    launch_rmsnorm(v.x, nullptr, n, H, w.post_norm.data, w.post_norm.type, eps, v.h, compute_);
    if (!linear_fused(compute_, v, v.h, n, H, {{&w.gate, nullptr, v.gate, I}, {&w.up, nullptr, v.up, I}})) {
      linear(v, v.h, w.gate, nullptr, v.gate, n, I, H);
      linear(v, v.h, w.up, nullptr, v.up, n, I, H);
    }
    launch_swiglu(v.gate, v.up, static_cast<size_t>(n) * I, compute_);
    linear(v, v.gate, w.down, nullptr, v.h, n, H, I);
    launch_residual_add(v.x, v.h, static_cast<size_t>(n) * H, compute_);
  }
}

// Final norm of R <= kLogitRows chosen rows of v.x (chunk-local indices on the device) and the lm_head.
void CudaBackend::run_logits(const Slot& s, const ChunkViews& v, const int32_t* rows_dev, int R) {
  const ModelConfig& c = s.model->config;
  launch_rmsnorm(v.x, rows_dev, R, c.hidden_size, s.final_norm.data, s.final_norm.type, static_cast<float>(c.rms_norm_eps),
                 v.rows, compute_);
  linear(v, v.rows, s.lm_head, nullptr, v.logits, R, c.vocab_size, c.hidden_size);
}

bool CudaBackend::run_decode_graph(int slot_id, const Slot& s, const ChunkViews& v, int T, float* logits) {
  const auto key = std::make_pair(slot_id, T);
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    cudaGraph_t graph = nullptr;
    CUDA_TRY(cudaStreamBeginCapture(compute_, cudaStreamCaptureModeThreadLocal));
    try {
      run_layers(s, v, 0, T);
      run_logits(s, v, d_rows_, T);
    } catch (...) {
      cudaStreamEndCapture(compute_, &graph);
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();
      throw;
    }
    CUDA_TRY(cudaStreamEndCapture(compute_, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (err != cudaSuccess) {
      cudaGetLastError();
      return false;  // eager fallback
    }
    it = graphs_.emplace(key, exec).first;
  }
  CUDA_TRY(cudaGraphLaunch(it->second, compute_));
  CUDA_TRY(cudaMemcpyAsync(logits, v.logits, static_cast<size_t>(T) * s.model->config.vocab_size * sizeof(float),
                           cudaMemcpyDeviceToHost, compute_));
  return true;
}

void CudaBackend::forward(int slot_id, const std::vector<BatchEntry>& batch, float* logits) {
  CUDA_TRY(cudaSetDevice(device_));
  const std::shared_ptr<Slot> slot = get_slot(slot_id);
  const Slot& s = *slot;
  const int vocab = s.model->config.vocab_size;
  int T = 0;
  std::vector<int> rows;
  upload_batch(s, batch, T, rows);
  if (T == 0) return;
  const ChunkViews v = chunk_views(s.model->config, s.chunk_tokens, activations_);
  bool decode = T <= kMaxGraphBatch && static_cast<int>(rows.size()) == T;
  for (const BatchEntry& e : batch) decode = decode && e.n_tokens == 1;
  if (!(decode && graphs_enabled_ && run_decode_graph(slot_id, s, v, T, logits))) {
    size_t r = 0;  // next logit row
    for (int t0 = 0; t0 < T; t0 += s.chunk_tokens) {
      const int n = std::min(s.chunk_tokens, T - t0);
      run_layers(s, v, t0, n);
      size_t end = r;
      while (end < rows.size() && rows[end] < t0 + n) end++;
      for (; r < end; r += kLogitRows) {
        const int R = static_cast<int>(std::min<size_t>(kLogitRows, end - r));
        run_logits(s, v, d_rows_ + r, R);
        CUDA_TRY(cudaMemcpyAsync(logits + r * vocab, v.logits, static_cast<size_t>(R) * vocab * sizeof(float),
                                 cudaMemcpyDeviceToHost, compute_));
        CUDA_TRY(cudaStreamSynchronize(compute_));  // v.logits is reused by the next group
      }
    }
  }
  CUDA_TRY(cudaStreamSynchronize(compute_));
}

}  // namespace tidepool::cuda
