// The contract between candidate selection (stage 2) and the draw (stage 3), and the one a device
// implementation of stages 1 + 2 must honour: the host computes it in candidate_selection.cpp; a GPU
// computes the same fields from its logits buffer and copies back this struct's few hundred bytes
// instead of a row of `vocab` floats.
//
// Definitions, for one sequence's row of `vocab` logits:
//   raw row        the model's logits, untouched.
//   processed row  the raw row after stage 1 (logit_processing.h): logit_bias, penalties, and -inf for
//                  ids the min_tokens rule or the grammar mask forbids. -inf entries are "masked".
//   order          processed logit descending, lower id first on ties. Masked entries are never in it.
//   q_i            exp((double(logit_i) - double(max)) / double(temperature)), max = the best processed logit.
//
// Stage 3 asks with a CandidateRequest and gets a SamplingCandidates. When it cannot prove its answer
// from what it got it asks again, for more candidates or for the exact normaliser; both are rare
// (see token_draw.h), and an implementation must answer them exactly, never approximately.
//
// What a device needs per sequence to compute the processed row itself (stage 1, logit_processing.h),
// all small: SamplingParams (bias list, penalty factors, temperature), TokenCounts::entries() (the
// distinct ids of prompt and output with output counts; it grows by one entry per new token), the ids
// masked this step (min_tokens), and under a grammar the TokenMask bitset (vocab / 8 bytes, 19 KB at
// 151,936 ids; one per automaton state, so it can stay resident on the device across steps).
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

namespace tidepool {

struct CandidateRequest {
  int32_t count = 1;              // the best `count` entries of the order (fewer when fewer are unmasked)
  float floor = INFINITY;         // and every unmasked entry whose logit is >= floor, however many
  float temperature = 1;          // for the normaliser
  bool normaliser = false;        // z over the whole processed row at `temperature`, with an error bound
  bool exact_normaliser = false;  // the same, summed in double in id order with std::exp: z_error = 0
  int32_t raw_top = -1;           // -1: no raw distribution; else raw_log_z and the raw row's `raw_top` best
};

struct Candidate {
  int32_t id = 0;
  float logit = 0;      // processed
  float raw_logit = 0;  // the same id in the raw row, for its logprob; needed when raw_top >= 0 (the host
                        // path recovers it from stage 1's edit log instead)
};

struct SamplingCandidates {
  std::vector<Candidate> top;  // (max(min(count, unmasked), entries >= floor)) in order; top[0] holds the max
  // True when `top` holds every unmasked entry of the row (so nothing lies beyond it).
  bool complete = false;
  int32_t universe = 0;  // an upper bound on the unmasked entries (vocab, or the mask's count)
  // Sum over unmasked ids of q_i, and a bound on |z - exact| where exact is the same sum in real numbers
  // (the host's: about 4e-7 of the mass outside `top`, plus 1e-16 per id). Only when requested; z_error
  // is 0 for the exact normaliser.
  double z = 0;
  double z_error = 0;
  // The model's own distribution, for logprobs: log of sum over all ids of exp(raw_i), and the raw row's
  // best entries in raw order (raw logit descending, lower id first). Only when requested.
  double raw_log_z = 0;
  std::vector<Candidate> raw_top;  // (raw_top), .logit = .raw_logit = the raw logit
};

}  // namespace tidepool
