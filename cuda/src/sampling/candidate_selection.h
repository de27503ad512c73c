// Stage 2 on the host: the best entries of a processed row by partial selection (never a sort of the
// vocabulary), the normaliser, and the raw distribution for logprobs; fills SamplingCandidates
// (sampling_candidates.h) for one CandidateRequest. Buffers live in the selector and are reused, so a
// steady stream of requests allocates nothing.
#pragma once

#include <cstdint>
#include <vector>

#include "row_view.h"
#include "sampling_candidates.h"

namespace tidepool {

class CandidateSelector {
 public:
  // The best `count` unmasked entries of `row`, and every unmasked entry whose logit is >= floor, in
  // order (processed logit descending, lower id first); raw_logit copies logit. Returns whether `out`
  // holds every unmasked entry.
  bool select(const RowView& row, int32_t count, float floor, std::vector<Candidate>& out);

 private:
  void scan(const RowView& row);
  void push(int32_t id, float logit);
  void compact();

  // Pending entries above the threshold, as keys that sort in the order: the logit's bits made
  // order-preserving in the high half, the complemented id in the low half (so larger = earlier).
  std::vector<uint64_t> buffer_;
  size_t capacity_ = 0;
  int32_t count_ = 1;
  float floor_ = 0;
  float threshold_ = 0;  // entries not above it cannot be in the result
};

}  // namespace tidepool
