// Stage 3: choose the token from SamplingCandidates (sampling_candidates.h), exactly.
//
// Greedy (temperature 0): the first entry of the order. Otherwise, with q_i = exp((l_i - max) / T) in
// double over the order:
//   1. truncation: top_k keeps the first k entries; min_p keeps the entries with q_i >= min_p (q of the
//      best is 1, so this is "probability >= min_p * the top probability"); both: the shorter prefix.
//   2. mass: R = the running sum of q over the kept prefix, or, when nothing truncates, z: the sum of q
//      over every unmasked id in id order (the normaliser).
//   3. top_p < 1: keep the shortest prefix whose running sum reaches top_p * R; R becomes that sum.
//   4. draw: r = u * R; walk the kept prefix subtracting q_i; the first entry where r < 0 is the token
//      (past the end, which only rounding allows, the last kept entry).
// Running sums are in order, in double. This is the pre-existing sampler's rule (temperature + top_p)
// generalised, so a sequence that sets no new parameter gets the tokens it always got.
//
// When the candidates do not settle a step (a cut or the draw lies past the last candidate, or the fast
// normaliser's error bound straddles a bucket edge), the outcome names the request that will: more
// candidates, or the exact normaliser. The decision is then taken on exact values, never approximated.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling_candidates.h"
#include "sampling_params.h"

namespace tidepool {

struct DrawOutcome {
  enum class Status { Done, NeedCandidates, NeedExactNormaliser };
  Status status = Status::Done;
  int32_t index = -1;     // into candidates.top when Done
  CandidateRequest next;  // when not Done: what to ask stage 2 for
};

// The first request for a sequence's parameters; `universe` = ids that may be chosen (vocab or mask).
CandidateRequest first_request(const SamplingParams& params, int32_t universe);

// q_i = exp((l_i - max) / T) in double for each candidate, into `q` (reused).
void candidate_weights(const std::vector<Candidate>& top, float temperature, std::vector<double>& q);

// `u` is the sequence's uniform in [0, 1) (ignored when greedy); `q` the candidates' weights at the
// params' temperature; `scratch` is reused between calls.
DrawOutcome draw_token(const SamplingParams& params, const SamplingCandidates& candidates,
                       const CandidateRequest& asked, double u, const std::vector<double>& q,
                       std::vector<double>& scratch);

}  // namespace tidepool
