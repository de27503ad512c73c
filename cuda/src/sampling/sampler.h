// The sampler: one call per sequence per step turns a row of raw logits into the next token, running
// stage 1 (logit_processing.h), stage 2 (candidate_selection.h, normaliser.h; the contract in
// sampling_candidates.h) and stage 3 (token_draw.h) on the host. One Sampler per engine; its buffers are
// reused, so sampling allocates nothing per token once warm.
//
// Logprobs are log-softmax values of the model's own distribution: the raw row, before logit_bias,
// penalties, masks and temperature (vLLM's default; OpenAI documents no choice). They are the same for
// a token whatever the sampling parameters, and the chosen token's value is bit-identical to its entry in
// the alternatives when it is one of them. Accuracy: the normaliser's fast pass (normaliser.h), about
// 3e-7 absolute at worst.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "candidate_selection.h"
#include "fast_exp.h"
#include "logit_processing.h"
#include "rng.h"
#include "sampling_params.h"
#include "token_counts.h"
#include "token_mask.h"

namespace tidepool {

// What one sequence brings to a step.
struct SampleRequest {
  const SamplingParams* params = nullptr;
  Rng* rng = nullptr;                            // one uniform per token unless greedy
  const TokenCounts* counts = nullptr;           // when params penalize
  const std::vector<int32_t>* masked = nullptr;  // ids that may not come this step (min_tokens)
  const TokenMask* allowed = nullptr;            // the grammar's mask for this step
};

struct SampledToken {
  int32_t token = -1;  // -1: every id was masked (the caller ends the sequence)
  bool has_logprob = false;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // (top_logprobs) best raw alternatives and their logprobs
};

// Where stage 2 reads a row when it needs one. On the host path the processed row is at hand; on the
// device path (sample_prepared) the rows stay on the device until the draw asks for more than the device's
// answer holds, so an implementation may fetch them on first call. Pointers stay valid for the call.
class RowSource {
 public:
  virtual ~RowSource() = default;
  virtual RowView processed() = 0;  // the processed row (vocab floats) with the grammar's mask
  virtual const float* raw() = 0;   // the raw row (vocab floats)
};

// Stage 2's first request for a sequence's parameters: first_request (token_draw.h), widened to the
// alternatives logprobs report. The device path asks the device exactly this.
CandidateRequest first_ask(const SamplingParams& params, int32_t universe);

class Sampler {
 public:
  // `row` holds `vocab` raw logits and is left processed (stage 1 works in place).
  void sample(const SampleRequest& request, float* row, int32_t vocab, SampledToken& out);
  // The device ran stage 1 and answered first_ask(...) with `first` (its raw distribution included when
  // logprobs are asked: raw_top of top_logprobs entries and raw_log_z). The draw starts from that answer
  // and reads `rows` only for what it does not hold (more candidates, the exact normaliser, the raw logit
  // of a chosen token outside it), so its token is the one sample() draws from the same raw row and seed.
  void sample_prepared(const SampleRequest& request, const SamplingCandidates& first, RowSource& rows,
                       SampledToken& out);

  int64_t exact_normalisers() const { return exact_normalisers_; }  // fallbacks taken (tests, bench)
  int64_t regrowths() const { return regrowths_; }

 private:
  void raw_distribution(const float* row, int32_t vocab, int32_t top_n);
  // `first`, when given, answers first_ask(...) for the processed row `rows` holds.
  int32_t draw(const SampleRequest& request, RowSource& rows, int32_t universe, double u,
               const SamplingCandidates* first);
  void report_logprobs(const SamplingParams& p, bool raw_differs, const float* row, const RowView& view,
                       SampledToken& out);
  void report_prepared_logprobs(const SamplingParams& p, const SamplingCandidates& first, RowSource& rows,
                                SampledToken& out);

  CandidateSelector selector_;
  SamplingCandidates candidates_;  // processed row
  SamplingCandidates raw_;         // raw row, when stage 1 changed it and logprobs are asked
  CandidateRequest asked_;
  ExpSums pass_;  // the normaliser's fast pass for the current draw
  std::vector<LogitEdit> edits_;
  std::vector<double> weights_;      // q of candidates_.top at the draw's temperature
  std::vector<double> raw_weights_;  // q of raw_.top at temperature 1
  std::vector<double> scratch_;
  int64_t exact_normalisers_ = 0;
  int64_t regrowths_ = 0;
};

}  // namespace tidepool
