// The engine's side of sampling: turns a Sequence into the sampler's request (its penalty counts, its
// min_tokens mask, its grammar's mask for the current state), samples, and records the token in the
// sequence (counts, grammar state). One per engine, on the step thread.
//
// Under a grammar, eos and stop ids are allowed only in accepting states (token_masks.h); min_tokens
// holds them back only while the grammar leaves another choice, so a finished structure still ends.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "grammar/grammar_store.h"
#include "sampling/sampler.h"
#include "sequence.h"

namespace tidepool {

class SequenceSampler {
 public:
  explicit SequenceSampler(GrammarStore& grammars) : grammars_(grammars) {}

  // Samples seq's next token from its raw row (processed in place) without appending it to seq.tokens.
  // out.token is -1 when no token may come; failure() then says why.
  void sample(Sequence& seq, float* row, int32_t vocab, SampledToken& out);
  const std::string& failure() const { return failure_; }

  // "stop" when `token` is a stop id, or an eos id and eos is not ignored; else "".
  static const char* stop_reason(const Sequence& seq, int32_t token);

  const Sampler& sampler() const { return sampler_; }

 private:
  void prepare_counts(Sequence& seq, int32_t vocab);
  std::shared_ptr<const GrammarMask> grammar_mask(const Sequence& seq, int32_t vocab);
  bool advance_grammar(Sequence& seq, int32_t token);

  GrammarStore& grammars_;
  Sampler sampler_;
  std::vector<int32_t> masked_;   // ids masked this step
  std::vector<int32_t> end_ids_;  // sorted eos and stop ids of the sequence being sampled
  std::string failure_;
};

}  // namespace tidepool
