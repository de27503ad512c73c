// The engine's side of sampling: turns a Sequence into the sampler's request (its penalty counts, its
// min_tokens mask), samples, records the token in the sequence's counts, and says whether the token
// ends the sequence. One per engine, on the step thread.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling/sampler.h"
#include "sequence.h"

namespace tidepool {

class SequenceSampler {
 public:
  // Samples seq's next token from its raw row (processed in place) without appending it to seq.tokens.
  // out.token is -1 when every id was masked.
  void sample(Sequence& seq, float* row, int32_t vocab, SampledToken& out);

  // "stop" when `token` is a stop id, or an eos id and eos is not ignored; else "".
  static const char* stop_reason(const Sequence& seq, int32_t token);

  const Sampler& sampler() const { return sampler_; }

 private:
  void prepare_counts(Sequence& seq, int32_t vocab);

  Sampler sampler_;
  std::vector<int32_t> masked_;  // ids masked this step
};

}  // namespace tidepool
