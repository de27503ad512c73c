// Sampling inputs prepared on the device (sampling_prep.cu): for each sequence's row of raw logits, the
// sampler's stage 1 (logit_bias, repetition / frequency / presence penalties, ids masked to -inf, a grammar
// mask read beside the row) and stage 2 (the best candidates in order, the softmax normaliser with an error
// bound, the raw distribution for logprobs), so that a few KB per sequence come back to the host instead
// of a row of `vocab` floats. The fields follow the host sampler's contract (cuda/src/sampling/
// sampling_candidates.h: CandidateRequest in, SamplingCandidates out) and its stage 1 arithmetic, float
// operation by float operation, so the processed row is bit-identical to the host's.
//
// What the device does not answer (the host then works from the row, which stays on the device): more
// than kPrepMaxCandidates candidates, more than kPrepMaxCandidates entries tied at the cut or above the
// floor (`overflow`), and the exact normaliser (the contract's exact_normaliser sums with the host's
// std::exp in id order).
#pragma once

#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdint>

#include "sampling_select.h"

namespace tidepool::cuda {

struct PrepCandidate {
  int32_t id = 0;
  float logit = 0;      // processed (raw, in raw_top)
  float raw_logit = 0;  // the same id in the raw row
};

// One row's request. Index ranges point into the shared arrays of PrepInputs.
struct PrepRow {
  int32_t count = 1;       // the best `count` unmasked entries (1 .. kPrepMaxCandidates)
  float floor = INFINITY;  // and every unmasked entry >= floor
  float temperature = 1;   // of the normaliser, > 0
  bool normaliser = false;
  int32_t raw_top = -1;  // -1: no raw distribution; else raw_log_z and the raw row's best raw_top
  float repetition_penalty = 1;
  float frequency_penalty = 0;
  float presence_penalty = 0;
  int32_t bias_begin = 0, bias_end = 0;      // logit_bias entries, ids sorted and unique
  int32_t seen_begin = 0, seen_end = 0;      // distinct ids seen (prompt or output) when penalties apply
  int32_t masked_begin = 0, masked_end = 0;  // ids forced to -inf (min_tokens)
  int64_t allowed_word = -1;                 // first 64-bit word of the row's grammar mask in allowed_bits; -1: none
  int32_t allowed_count = 0;                 // ids the grammar mask allows
};

// Device arrays for R rows.
struct PrepInputs {
  const float* raw = nullptr;         // (R, vocab) raw logits; left untouched
  float* processed = nullptr;         // (R, vocab) stage 1's output
  const PrepRow* rows = nullptr;      // (R)
  const int32_t* bias_ids = nullptr;  // logit_bias ids and values
  const float* bias_values = nullptr;
  const int32_t* seen_ids = nullptr;  // penalised ids and how often the output holds each
  const int32_t* seen_output_counts = nullptr;
  const int32_t* masked_ids = nullptr;
  const uint64_t* allowed_bits = nullptr;  // grammar masks, bit id % 64 of word id / 64
  int32_t vocab = 0;
};

// One row's answer: a fixed-size record, copied back whole.
struct PrepCandidates {
  int32_t n = 0;         // entries in top: the best max(min(count, unmasked), entries >= floor)
  int32_t complete = 0;  // top holds every unmasked entry
  int32_t overflow = 0;  // not answered here (see above): the host selects from the processed row
  int32_t universe = 0;  // vocab, or the grammar mask's count
  double z = 0;          // sum over unmasked ids of exp((l - max) / T), when asked
  double z_error = 0;    // |z - exact| <= z_error
  double raw_log_z = 0;  // log of sum over all ids of exp(raw), when raw_top >= 0
  int32_t raw_n = 0;
  PrepCandidate top[kPrepMaxCandidates];
  PrepCandidate raw_top[kPrepMaxRawTop];
};

// Runs stages 1 and 2 for R rows: out (R) on the device.
void launch_sampling_prep(const PrepInputs& in, int R, PrepCandidates* out, cudaStream_t s);

}  // namespace tidepool::cuda
