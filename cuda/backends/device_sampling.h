// Sampling prepared where the logits are: the contract between the step loop and a backend that runs the
// sampler's stage 1 (logit_bias, penalties, masks) and stage 2's first request (the best candidates, the
// normaliser, the raw distribution for logprobs) beside its logits, so a few KB per sequence come back
// instead of a row of vocab floats (src/sampling/sampling_candidates.h is stage 2's contract). The CUDA
// backend offers it (cuda_sampling.cpp); the CPU backend does not, and the step loop then samples full rows.
#pragma once

#include <cstdint>
#include <vector>

#include "../src/sampling/sampling_candidates.h"
#include "../src/sampling/sampling_params.h"
#include "../src/sampling/token_counts.h"
#include "../src/sampling/token_mask.h"

namespace tidepool {

// One logit row's sampling inputs, valid for the forward_prepared call that takes them.
struct RowSampling {
  CandidateRequest ask;                          // first_ask(...); ask.raw_top >= 0 when logprobs are asked
  const SamplingParams* params = nullptr;        // logit_bias and the penalties
  const TokenCounts* counts = nullptr;           // ids seen so far, when params penalize; else null
  const std::vector<int32_t>* masked = nullptr;  // ids forced to -inf this step (min_tokens), or null
  const TokenMask* allowed = nullptr;            // the grammar's mask over the row, or null
};

// The backend's answer for one row. Unanswered rows (more candidates than the device holds, a mask or
// lists past its input buffer) are sampled on the host from the raw row.
struct RowCandidates {
  bool answered = false;
  SamplingCandidates candidates;  // when answered: stage 2's answer to `ask` for the processed row
};

}  // namespace tidepool
