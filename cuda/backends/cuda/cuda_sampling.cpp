// CudaBackend's sampling prepared on the device (backends/device_sampling.h): a step's logit rows stay in
// the scratch, sampling_prep.cu runs stage 1 and stage 2's first request on them, and one fixed record
// per row (PrepCandidates, about 3.5 KB) comes back instead of vocab floats (594 KB at 151,936).
//
// Inputs go up in one copy, laid out in ChunkViews::prep_in as
//   [ grammar masks: uint64 words, one row's mask after another ][ PrepRow x rows ]
//   [ bias ids | bias values | seen ids | seen output counts | masked ids ]   (int32 / float, <= kPrepListBytes)
// A step whose lists do not fit is not prepared: every row comes back unanswered and the host samples its
// raw row (fetch_row). Rows stay readable until the next forward.
#include <cstring>

#include "../../src/errors.h"
#include "../../src/model.h"
#include "cuda_backend.h"
#include "cuda_check.h"

namespace tidepool::cuda {

namespace {

// Sizes of the lists and masks of a step's rows.
struct InputCounts {
  size_t mask_words = 0, bias = 0, seen = 0, masked = 0;
};

bool penalized(const RowSampling& r) { return r.counts && r.params->penalizes() && r.counts->ready(); }

InputCounts count_inputs(const std::vector<RowSampling>& rows) {
  InputCounts n;
  for (const RowSampling& r : rows) {
    if (r.allowed) n.mask_words += r.allowed->bits.size();
    n.bias += r.params->logit_bias.size();
    if (penalized(r)) n.seen += r.counts->entries().size();
    if (r.masked) n.masked += r.masked->size();
  }
  return n;
}

// Appends `count` values of T at `at` (bytes) of `out`, returns where they start.
template <typename T>
size_t place(std::vector<uint8_t>& out, size_t& at, size_t count) {
  const size_t start = at;
  at += count * sizeof(T);
  if (at > out.size()) out.resize(at);
  return start;
}

PrepRow prep_row(const RowSampling& r) {
  PrepRow p;
  p.count = r.ask.count;
  p.floor = r.ask.floor;
  p.temperature = r.ask.temperature;
  p.normaliser = r.ask.normaliser;
  p.raw_top = r.ask.raw_top;
  if (penalized(r)) {
    p.repetition_penalty = r.params->repetition_penalty;
    p.frequency_penalty = r.params->frequency_penalty;
    p.presence_penalty = r.params->presence_penalty;
  }
  return p;
}

// Stages the rows' inputs in `bytes` with device pointers from `device` (the region they are copied to).
// False when they do not fit `capacity`.
bool stage_inputs(const std::vector<RowSampling>& rows, uint8_t* device, size_t capacity, std::vector<uint8_t>& bytes,
                  PrepInputs& in) {
  const InputCounts n = count_inputs(rows);
  const size_t lists = (2 * n.bias + 2 * n.seen + n.masked) * 4;
  if (n.mask_words * 8 + rows.size() * sizeof(PrepRow) + lists > capacity) return false;
  bytes.clear();
  size_t at = 0;
  const size_t words = place<uint64_t>(bytes, at, n.mask_words), prep_rows = place<PrepRow>(bytes, at, rows.size());
  const size_t bias_ids = place<int32_t>(bytes, at, n.bias), bias_values = place<float>(bytes, at, n.bias);
  const size_t seen_ids = place<int32_t>(bytes, at, n.seen), seen_counts = place<int32_t>(bytes, at, n.seen);
  const size_t masked = place<int32_t>(bytes, at, n.masked);
  auto host = [&](size_t offset) { return bytes.data() + offset; };
  size_t w = 0, b = 0, e = 0, m = 0;
  for (size_t i = 0; i < rows.size(); i++) {
    const RowSampling& r = rows[i];
    PrepRow p = prep_row(r);
    if (r.allowed) {
      std::memcpy(host(words) + w * 8, r.allowed->bits.data(), r.allowed->bits.size() * 8);
      p.allowed_word = static_cast<int64_t>(w);
      p.allowed_count = r.allowed->count;
      w += r.allowed->bits.size();
    }
    p.bias_begin = static_cast<int32_t>(b);
    for (const auto& [id, bias] : r.params->logit_bias) {
      std::memcpy(host(bias_ids) + b * 4, &id, 4);
      std::memcpy(host(bias_values) + b++ * 4, &bias, 4);
    }
    p.bias_end = static_cast<int32_t>(b);
    p.seen_begin = static_cast<int32_t>(e);
    if (penalized(r))
      for (const TokenCounts::Entry& entry : r.counts->entries()) {
        std::memcpy(host(seen_ids) + e * 4, &entry.id, 4);
        std::memcpy(host(seen_counts) + e++ * 4, &entry.output_count, 4);
      }
    p.seen_end = static_cast<int32_t>(e);
    p.masked_begin = static_cast<int32_t>(m);
    if (r.masked)
      for (int32_t id : *r.masked) std::memcpy(host(masked) + m++ * 4, &id, 4);
    p.masked_end = static_cast<int32_t>(m);
    std::memcpy(host(prep_rows) + i * sizeof(PrepRow), &p, sizeof p);
  }
  in.allowed_bits = reinterpret_cast<const uint64_t*>(device + words);
  in.rows = reinterpret_cast<const PrepRow*>(device + prep_rows);
  in.bias_ids = reinterpret_cast<const int32_t*>(device + bias_ids);
  in.bias_values = reinterpret_cast<const float*>(device + bias_values);
  in.seen_ids = reinterpret_cast<const int32_t*>(device + seen_ids);
  in.seen_output_counts = reinterpret_cast<const int32_t*>(device + seen_counts);
  in.masked_ids = reinterpret_cast<const int32_t*>(device + masked);
  return true;
}

RowCandidates to_row_candidates(const PrepCandidates& c) {
  RowCandidates out;
  out.answered = !c.overflow;
  if (!out.answered) return out;
  SamplingCandidates& s = out.candidates;
  for (int i = 0; i < c.n; i++) s.top.push_back(Candidate{c.top[i].id, c.top[i].logit, c.top[i].raw_logit});
  for (int i = 0; i < c.raw_n; i++)
    s.raw_top.push_back(Candidate{c.raw_top[i].id, c.raw_top[i].logit, c.raw_top[i].raw_logit});
  s.complete = c.complete != 0;
  s.universe = c.universe;
  s.z = c.z;
  s.z_error = c.z_error;
  s.raw_log_z = c.raw_log_z;
  return out;
}

}  // namespace

// After the step's layers, on the compute stream: inputs up, the kernel, the records down (the caller
// synchronises). The raw rows are v.logits, one per logit row.
void CudaBackend::run_sampling_prep(const ChunkViews& v, int vocab, int rows, PreparedStep& step) {
  PrepInputs in;
  step.staged = stage_inputs(*step.rows, v.prep_in, prep_input_bytes(vocab), step.inputs, in);
  kept_raw_ = v.logits;
  kept_processed_ = step.staged ? v.processed : nullptr;
  kept_rows_ = rows;
  kept_vocab_ = vocab;
  if (!step.staged) return;
  in.raw = v.logits;
  in.processed = v.processed;
  in.vocab = vocab;
  CUDA_TRY(cudaMemcpyAsync(v.prep_in, step.inputs.data(), step.inputs.size(), cudaMemcpyHostToDevice, compute_));
  launch_sampling_prep(in, rows, v.prep_out, compute_);
  step.answers.resize(rows);
  CUDA_TRY(cudaMemcpyAsync(step.answers.data(), v.prep_out, rows * sizeof(PrepCandidates), cudaMemcpyDeviceToHost,
                           compute_));
}

void CudaBackend::forward_prepared(int slot_id, const std::vector<BatchEntry>& batch,
                                   const std::vector<RowSampling>& rows, std::vector<RowCandidates>& out) {
  in_phase([&] { return forward_label(slot_id, batch) + " (sampling on the device)"; },
           [&] {
             if (rows.size() != batch.size())
               throw EngineError("internal", "forward_prepared takes one sampling row per entry");
             for (const BatchEntry& e : batch)
               if (e.all_logits) throw EngineError("internal", "forward_prepared has no all_logits entries");
             if (inject_forward_fault_)
               launch_gather_pages(kv_pool_, reinterpret_cast<const int32_t*>(uintptr_t{64}), 1, page_bytes_,
                                   activations_, compute_);
             kept_rows_ = 0;
             prepared_.rows = &rows;
             prepared_.staged = false;
             forward_batch(slot_id, batch, nullptr, &prepared_);
             out.assign(rows.size(), RowCandidates{});
             for (size_t i = 0; prepared_.staged && i < rows.size(); i++)
               out[i] = to_row_candidates(prepared_.answers[i]);
             sampling_stats_.rows += static_cast<int64_t>(rows.size());
             for (const RowCandidates& r : out) sampling_stats_.rows_unanswered += r.answered ? 0 : 1;
           });
}

void CudaBackend::fetch_row(int row, float* raw, float* processed) {
  in_phase([&] { return "copying logit row " + std::to_string(row) + " back for the host sampler"; },
           [&] {
             if (row < 0 || row >= kept_rows_)
               throw EngineError("internal", "no kept logit row " + std::to_string(row));
             if (processed && !kept_processed_)
               throw EngineError("internal", "the device kept no processed rows this step");
             const size_t bytes = static_cast<size_t>(kept_vocab_) * sizeof(float),
                          at = static_cast<size_t>(row) * kept_vocab_;
             if (raw) CUDA_TRY(cudaMemcpyAsync(raw, kept_raw_ + at, bytes, cudaMemcpyDeviceToHost, compute_));
             if (processed)
               CUDA_TRY(cudaMemcpyAsync(processed, kept_processed_ + at, bytes, cudaMemcpyDeviceToHost, compute_));
             CUDA_TRY(cudaStreamSynchronize(compute_));
             sampling_stats_.rows_fetched++;
           });
}

}  // namespace tidepool::cuda
