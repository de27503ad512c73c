// A stand-in for a backend that prepares sampling on its device, so the step loop's device path
// (engine_prepared.cpp, Sampler::sample_prepared) runs in CI without a GPU: the CPU backend computes the
// logits, and `reference_prepare` answers each row as backends/device_sampling.h says a device must,
// written here from the contract's definitions (sampling_candidates.h, logit_processing.h) with a full
// sort, not from the engine's sampler or the CUDA kernel. Like sampling_prep.cu it gives up (unanswered)
// on more than kMaxCandidates candidates.
#pragma once

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <numeric>
#include <vector>

#include "../backends/backend.h"
#include "model.h"

namespace tidepool::testing {

constexpr int kMaxCandidates = 256;  // sampling_prep.cu's kPrepMaxCandidates

// Stage 1 on a copy of the raw row, in the contract's order and float arithmetic.
inline std::vector<float> reference_stage1(const float* raw, int vocab, const RowSampling& r) {
  std::vector<float> row(raw, raw + vocab);
  const SamplingParams& p = *r.params;
  for (const auto& [id, bias] : p.logit_bias)
    if (id >= 0 && id < vocab) row[id] += bias;
  if (r.counts)
    for (const TokenCounts::Entry& e : r.counts->entries()) {
      if (e.id < 0 || e.id >= vocab || (p.repetition_penalty == 1 && e.output_count == 0)) continue;
      float v = row[e.id];
      if (p.repetition_penalty != 1) v = v > 0 ? v / p.repetition_penalty : v * p.repetition_penalty;
      if (e.output_count > 0) {
        v -= p.frequency_penalty * static_cast<float>(e.output_count);
        v -= p.presence_penalty;
      }
      row[e.id] = v;
    }
  if (r.masked)
    for (int32_t id : *r.masked)
      if (id >= 0 && id < vocab) row[id] = -INFINITY;
  return row;
}

// Ids of `row` that `keep` admits, by value descending, lower id first on ties.
template <typename Keep>
std::vector<int32_t> reference_order(const std::vector<float>& row, Keep keep) {
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < static_cast<int32_t>(row.size()); i++)
    if (keep(i)) ids.push_back(i);
  std::sort(ids.begin(), ids.end(),
            [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  return ids;
}

inline RowCandidates reference_prepare(const float* raw, int vocab, const RowSampling& r,
                                       std::vector<float>& processed) {
  processed = reference_stage1(raw, vocab, r);
  const std::vector<float> raw_row(raw, raw + vocab);
  RowCandidates out;
  SamplingCandidates& c = out.candidates;
  c.universe = r.allowed ? r.allowed->count : vocab;
  const std::vector<int32_t> order = reference_order(
      processed, [&](int32_t i) { return processed[i] > -INFINITY && (!r.allowed || r.allowed->allows(i)); });
  size_t n = std::min<size_t>(std::max(r.ask.count, 1), order.size());
  while (n < order.size() && processed[order[n]] >= r.ask.floor) n++;
  if (n > static_cast<size_t>(kMaxCandidates)) return out;
  for (size_t k = 0; k < n; k++) c.top.push_back(Candidate{order[k], processed[order[k]], raw[order[k]]});
  c.complete = n == order.size();
  if (r.ask.normaliser && n > 0) {
    const double max = c.top[0].logit, t = r.ask.temperature;
    for (int32_t i = 0; i < vocab; i++)  // every unmasked id, in id order
      if (processed[i] > -INFINITY && (!r.allowed || r.allowed->allows(i))) c.z += std::exp((processed[i] - max) / t);
    c.z_error = 1e-12 * c.z;
  }
  if (r.ask.raw_top >= 0) {
    const std::vector<int32_t> raw_order = reference_order(raw_row, [&](int32_t i) { return raw_row[i] > -INFINITY; });
    for (int k = 0; k < std::max(r.ask.raw_top, 1) && k < static_cast<int>(raw_order.size()); k++)
      c.raw_top.push_back(Candidate{raw_order[k], raw_row[raw_order[k]], raw_row[raw_order[k]]});
    double sum = 0;
    for (float v : raw_row) sum += std::exp(static_cast<double>(v) - c.raw_top[0].logit);
    c.raw_log_z = c.raw_top[0].logit + std::log(sum);
  }
  out.answered = true;
  return out;
}

// The CPU backend with forward_prepared: logits on the host, answers from reference_prepare. With
// answering off every row comes back unanswered (the host then samples its raw row).
class PreparingBackend : public Backend {
 public:
  explicit PreparingBackend(std::unique_ptr<Backend> inner) : inner_(std::move(inner)) {}
  void set_answering(bool on) { answering_ = on; }
  int64_t rows_fetched() const { return fetched_; }

  std::string name() const override { return "cpu-prepared"; }
  std::string device_name() const override { return inner_->device_name(); }
  size_t kv_element_bytes() const override { return inner_->kv_element_bytes(); }
  MemorySource memory_source() const override { return inner_->memory_source(); }
  void init_memory(const MemoryPlan& plan) override { inner_->init_memory(plan); }
  void init_kv_pool(size_t num_pages, size_t page_bytes) override { inner_->init_kv_pool(num_pages, page_bytes); }
  size_t slot_bytes(const Model& model, size_t weight_bytes) const override {
    return inner_->slot_bytes(model, weight_bytes);
  }
  void prepare_host(const Model& model) override { inner_->prepare_host(model); }
  void release_host(const Model& model) override { inner_->release_host(model); }
  BackendMemory memory() const override { return inner_->memory(); }
  int load_slot(const Model& model, const KvLayout& layout) override {
    const int slot = inner_->load_slot(model, layout);
    slot_vocab_[slot] = model.config.vocab_size;
    return slot;
  }
  void free_slot(int slot) override { inner_->free_slot(slot); }
  void forward(int slot, const std::vector<BatchEntry>& batch, float* logits) override {
    inner_->forward(slot, batch, logits);
  }
  void forward_hidden(int slot, const BatchEntry& entry, float* hidden) override {
    inner_->forward_hidden(slot, entry, hidden);
  }
  void kv_to_host(const std::vector<int32_t>& pages, uint8_t* host) override { inner_->kv_to_host(pages, host); }
  void kv_from_host(const std::vector<int32_t>& pages, const uint8_t* host) override {
    inner_->kv_from_host(pages, host);
  }

  int prepared_rows() const override { return 32; }
  void forward_prepared(int slot, const std::vector<BatchEntry>& batch, const std::vector<RowSampling>& rows,
                        std::vector<RowCandidates>& out) override {
    vocab_ = slot_vocab_.at(slot);
    raw_.assign(rows.size() * vocab_, 0.0f);
    inner_->forward(slot, batch, raw_.data());
    processed_.assign(rows.size(), {});
    out.assign(rows.size(), RowCandidates{});
    for (size_t i = 0; i < rows.size() && answering_; i++)
      out[i] = reference_prepare(&raw_[i * vocab_], vocab_, rows[i], processed_[i]);
  }
  void fetch_row(int row, float* raw, float* processed) override {
    fetched_++;
    if (raw) std::copy_n(&raw_[static_cast<size_t>(row) * vocab_], vocab_, raw);
    if (processed) std::copy_n(processed_.at(row).data(), vocab_, processed);
  }

 private:
  std::unique_ptr<Backend> inner_;
  std::map<int, int> slot_vocab_;
  bool answering_ = true;
  int vocab_ = 0;                              // of the last forward_prepared's model
  std::vector<float> raw_;                     // (rows, vocab) of the last forward_prepared
  std::vector<std::vector<float>> processed_;  // (rows) (vocab)
  int64_t fetched_ = 0;
};

}  // namespace tidepool::testing
