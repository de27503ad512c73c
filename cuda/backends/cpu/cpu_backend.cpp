#include "cpu_backend.h"

#include <sys/mman.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "../../src/errors.h"
#include "../../src/model.h"
#include "../precision.h"
#include "cpu_ops.h"
#include "precision_emulation.h"

namespace tidepool {

namespace {

bool cuda_precision_requested(const BackendOptions& options) {
  const char* env = std::getenv(kCpuPrecisionEnv);
  const std::string mode = env ? env : "";
  if (mode != "" && mode != "f32" && mode != "cuda")
    throw EngineError("bad_request", std::string(kCpuPrecisionEnv) + " must be f32 or cuda, not '" + mode + "'");
  return options.emulate_cuda_precision || mode == "cuda";
}

}  // namespace

CpuBackend::CpuBackend(const BackendOptions& options)
    : pool_(options.threads), emulate_cuda_(cuda_precision_requested(options)) {}

CpuBackend::~CpuBackend() {
  if (kv_pool_) ::munmap(kv_pool_, kv_pool_bytes_);
}

std::string CpuBackend::device_name() const {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      auto colon = line.find(':');
      if (colon != std::string::npos)
        return line.substr(colon + 2) + " x" + std::to_string(pool_.size()) + " threads" + precision_note();
    }
  }
  return "cpu x" + std::to_string(pool_.size()) + " threads" + precision_note();
}

void CpuBackend::init_kv_pool(size_t num_pages, size_t page_bytes) {
  if (kv_pool_) throw EngineError("internal", "KV pool already initialized");
  kv_pool_bytes_ = num_pages * page_bytes;
  if (kv_pool_bytes_ > 0) {
    void* p =
        ::mmap(nullptr, kv_pool_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw EngineError("out_of_memory", "cannot reserve the KV pool");
    kv_pool_ = static_cast<uint8_t*>(p);
  }
  page_bytes_ = page_bytes;
  num_pages_ = num_pages;
}

int CpuBackend::load_slot(const Model& model, const KvLayout& layout) {
  auto slot = std::make_unique<Slot>();
  slot->model = &model;
  slot->layout = layout;
  if (emulate_cuda_) slot->act = activation_dtype(model);
  const int hd = model.config.head_dim;
  for (int i = 0; i < hd / 2; i++)  // as HF computes it: f32 pow of (2i / head_dim)
    slot->inv_freq.push_back(1.0f /
                             std::pow(static_cast<float>(model.config.rope_theta), static_cast<float>(2 * i) / hd));
  std::lock_guard<std::mutex> lock(slots_mutex_);
  for (size_t i = 0; i < slots_.size(); i++) {
    if (!slots_[i]) {
      slots_[i] = std::move(slot);
      return static_cast<int>(i);
    }
  }
  slots_.push_back(std::move(slot));
  return static_cast<int>(slots_.size() - 1);
}

void CpuBackend::free_slot(int slot) {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  if (slot >= 0 && static_cast<size_t>(slot) < slots_.size()) slots_[slot].reset();
}

CpuBackend::Slot CpuBackend::slot_copy(int slot) {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size() || !slots_[slot])
    throw EngineError("internal", "no model in slot " + std::to_string(slot));
  return *slots_[slot];
}

float* CpuBackend::kv_row(const Slot& s, const BatchEntry& e, int pos, int layer, int kv) {
  size_t index = s.layout.table_index(pos, layer, kv);
  if (index >= static_cast<size_t>(e.n_pages)) throw EngineError("internal", "block table too short");
  size_t page = static_cast<size_t>(e.pages[index]);
  if (page >= num_pages_) throw EngineError("internal", "page id out of range");
  return reinterpret_cast<float*>(kv_pool_ + page * page_bytes_ + s.layout.row_offset(pos, layer, kv));
}

// K/V rows stay f32 in the pool; with emulation on they hold bf16-rounded values, as the CUDA pool does.
void CpuBackend::write_kv(const Slot& s, const std::vector<BatchEntry>& batch, int layer, const float* k,
                          const float* v) {
  const int kv_dim = s.layout.kv_dim;
  const DType kv_type = emulate_cuda_ ? DType::BF16 : DType::F32;
  for (size_t t = 0; t < tokens_.size(); t++) {
    const BatchEntry& e = batch[tokens_[t].entry];
    float* krow = kv_row(s, e, tokens_[t].pos, layer, 0);
    float* vrow = kv_row(s, e, tokens_[t].pos, layer, 1);
    std::memcpy(krow, k + t * kv_dim, kv_dim * sizeof(float));
    std::memcpy(vrow, v + t * kv_dim, kv_dim * sizeof(float));
    round_in_place(kv_type, krow, kv_dim);
    round_in_place(kv_type, vrow, kv_dim);
  }
}

// q (T, heads*head_dim) -> out (T, heads*head_dim), causal over each sequence's cached positions.
void CpuBackend::attention_layer(const Slot& s, const std::vector<BatchEntry>& batch, int layer, const float* q,
                                 float* out) {
  const ModelConfig& c = s.model->config;
  const int hd = c.head_dim, heads = c.num_heads, group = c.num_heads / c.num_kv_heads;
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  pool_.parallel_for(tokens_.size() * heads, [&](size_t begin, size_t end) {
    thread_local std::vector<float> scores;
    for (size_t item = begin; item < end; item++) {
      const size_t t = item / heads;
      const int h = static_cast<int>(item % heads), kvh = h / group;
      const BatchEntry& e = batch[tokens_[t].entry];
      const int n = tokens_[t].pos + 1;
      const float* qv = q + (t * heads + h) * hd;
      if (scores.size() < static_cast<size_t>(n)) scores.resize(n);
      float max_score = -INFINITY;
      for (int j = 0; j < n; j++) {
        scores[j] = dot_f32(qv, kv_row(s, e, j, layer, 0) + kvh * hd, hd) * scale;
        max_score = std::max(max_score, scores[j]);
      }
      float sum = 0;
      for (int j = 0; j < n; j++) sum += scores[j] = std::exp(scores[j] - max_score);
      float* o = out + (t * heads + h) * hd;
      std::fill(o, o + hd, 0.0f);
      for (int j = 0; j < n; j++) {
        const float p = scores[j] / sum;
        const float* vv = kv_row(s, e, j, layer, 1) + kvh * hd;
        for (int d = 0; d < hd; d++) o[d] += p * vv[d];
      }
    }
  });
}

// Activations of one forward pass, all f32 (with emulation on, values are rounded where CUDA stores them
// narrower, but kept in f32 arrays).
struct CpuBackend::Activations {
  std::vector<float> x, h;      // (T, H) residual stream, normed input / projection output
  std::vector<float> q, att;    // (T, Q)
  std::vector<float> k, v;      // (T, KV)
  std::vector<float> gate, up;  // (T, I)
  Activations(const ModelConfig& c, size_t T)
      : x(T * c.hidden_size),
        h(x.size()),
        q(T * c.q_dim()),
        att(q.size()),
        k(T * c.kv_dim()),
        v(k.size()),
        gate(T * c.intermediate_size),
        up(gate.size()) {}
};

void CpuBackend::run_layer(const Slot& s, const std::vector<BatchEntry>& batch, int l, Activations& a) {
  const Model& m = *s.model;
  const ModelConfig& c = m.config;
  const LayerWeights& w = m.layers[l];
  const int T = static_cast<int>(tokens_.size()), H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(),
            I = c.intermediate_size;
  const float eps = static_cast<float>(c.rms_norm_eps);
  rms_norm(a.x.data(), T, H, *w.input_norm, eps, a.h.data());
  round_in_place(s.act, a.h.data(), a.h.size());
  matmul(pool_, a.h.data(), T, H, *w.q, w.q_bias, a.q.data(), Q);
  matmul(pool_, a.h.data(), T, H, *w.k, w.k_bias, a.k.data(), KV);
  matmul(pool_, a.h.data(), T, H, *w.v, w.v_bias, a.v.data(), KV);
  for (int t = 0; t < T; t++) {
    rope(&a.q[static_cast<size_t>(t) * Q], c.num_heads, c.head_dim, tokens_[t].pos, s.inv_freq.data());
    rope(&a.k[static_cast<size_t>(t) * KV], c.num_kv_heads, c.head_dim, tokens_[t].pos, s.inv_freq.data());
  }
  round_in_place(s.act, a.q.data(), a.q.size());
  write_kv(s, batch, l, a.k.data(), a.v.data());
  attention_layer(s, batch, l, a.q.data(), a.att.data());
  round_in_place(s.act, a.att.data(), a.att.size());
  matmul(pool_, a.att.data(), T, Q, *w.o, nullptr, a.h.data(), H);
  for (size_t i = 0; i < a.x.size(); i++) a.x[i] += a.h[i];
  rms_norm(a.x.data(), T, H, *w.post_norm, eps, a.h.data());
  round_in_place(s.act, a.h.data(), a.h.size());
  matmul(pool_, a.h.data(), T, H, *w.gate, nullptr, a.gate.data(), I);
  matmul(pool_, a.h.data(), T, H, *w.up, nullptr, a.up.data(), I);
  for (size_t i = 0; i < a.gate.size(); i++) a.gate[i] = silu(a.gate[i]) * a.up[i];
  round_in_place(s.act, a.gate.data(), a.gate.size());
  matmul(pool_, a.gate.data(), T, I, *w.down, nullptr, a.h.data(), H);
  for (size_t i = 0; i < a.x.size(); i++) a.x[i] += a.h[i];
}

void CpuBackend::forward(int slot_id, const std::vector<BatchEntry>& batch, float* logits) {
  const Slot s = slot_copy(slot_id);
  const ModelConfig& c = s.model->config;
  const int H = c.hidden_size;
  std::vector<float> x = run_layers(s, batch);
  std::vector<int> logit_rows;  // token indices whose logits are returned
  size_t t = 0;
  for (const BatchEntry& e : batch)
    for (int j = 0; j < e.n_tokens; j++, t++)
      if (e.all_logits || j == e.n_tokens - 1) logit_rows.push_back(static_cast<int>(t));
  const int R = static_cast<int>(logit_rows.size());
  if (R == 0) return;
  std::vector<float> rows(static_cast<size_t>(R) * H);
  for (int r = 0; r < R; r++)
    std::memcpy(&rows[static_cast<size_t>(r) * H], &x[static_cast<size_t>(logit_rows[r]) * H], H * sizeof(float));
  rms_norm(rows.data(), R, H, *s.model->final_norm, static_cast<float>(c.rms_norm_eps), rows.data());
  round_in_place(s.act, rows.data(), rows.size());
  matmul(pool_, rows.data(), R, H, *s.model->lm_head, nullptr, logits, c.vocab_size);
}

void CpuBackend::forward_hidden(int slot_id, const BatchEntry& entry, float* hidden) {
  const Slot s = slot_copy(slot_id);
  const ModelConfig& c = s.model->config;
  std::vector<float> x = run_layers(s, {entry});
  if (entry.n_tokens == 0) return;
  rms_norm(x.data(), entry.n_tokens, c.hidden_size, *s.model->final_norm, static_cast<float>(c.rms_norm_eps), hidden);
  // the final norm's output is stored in the activation dtype on CUDA (backends/precision.h)
  round_in_place(s.act, hidden, static_cast<size_t>(entry.n_tokens) * c.hidden_size);
}

std::vector<float> CpuBackend::run_layers(const Slot& s, const std::vector<BatchEntry>& batch) {
  const Model& m = *s.model;
  const ModelConfig& c = m.config;
  const int H = c.hidden_size;
  tokens_.clear();
  for (size_t i = 0; i < batch.size(); i++)
    for (int j = 0; j < batch[i].n_tokens; j++) tokens_.push_back({static_cast<int>(i), batch[i].start_pos + j});
  const int T = static_cast<int>(tokens_.size());
  if (T == 0) return {};
  Activations a(c, static_cast<size_t>(T));
  for (int t = 0; t < T; t++) {
    const BatchEntry& e = batch[tokens_[t].entry];
    const int32_t tok = e.tokens[tokens_[t].pos - e.start_pos];
    if (tok < 0 || tok >= c.vocab_size)
      throw EngineError("bad_request", "token id " + std::to_string(tok) + " out of range");
    float* dst = &a.x[static_cast<size_t>(t) * H];
    const float* row = tensor_row_f32(*m.embed, tok, H, dst);
    if (row != dst) std::memcpy(dst, row, H * sizeof(float));
  }
  for (int l = 0; l < c.num_layers; l++) run_layer(s, batch, l, a);
  return std::move(a.x);
}

void CpuBackend::kv_to_host(const std::vector<int32_t>& pages, uint8_t* host) {
  for (size_t i = 0; i < pages.size(); i++)
    std::memcpy(host + i * page_bytes_, kv_pool_ + static_cast<size_t>(pages[i]) * page_bytes_, page_bytes_);
}

void CpuBackend::kv_from_host(const std::vector<int32_t>& pages, const uint8_t* host) {
  for (size_t i = 0; i < pages.size(); i++)
    std::memcpy(kv_pool_ + static_cast<size_t>(pages[i]) * page_bytes_, host + i * page_bytes_, page_bytes_);
}

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options) {
  return std::make_unique<CpuBackend>(options);
}

}  // namespace tidepool
