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

// One sequence's sampling inputs for one step, taken before its forward (the device path sends them with
// it): the grammar's mask for the current state, the ids min_tokens masks and the sequence's end ids.
struct SequenceRequest {
  std::shared_ptr<const GrammarMask> mask;  // null: unconstrained
  std::vector<int32_t> masked;              // ids that may not come this step
  std::vector<int32_t> end_ids;             // sorted, unique eos and stop ids (under a grammar)

  // The sampler's request; points into `seq` and this record, which must outlive its use.
  SampleRequest request(Sequence& seq) const;
};

class SequenceSampler {
 public:
  explicit SequenceSampler(GrammarStore& grammars) : grammars_(grammars) {}

  // Samples seq's next token from its raw row (processed in place) without appending it to seq.tokens.
  // out.token is -1 when no token may come; failure() then says why.
  void sample(Sequence& seq, float* row, int32_t vocab, SampledToken& out);
  const std::string& failure() const { return failure_; }

  // The device path in two halves around the forward: prepare() fills `r` (and readies the sequence's
  // penalty counts); sample_prepared() draws from the device's answer for the sequence's row, reading
  // `rows` only when the answer does not settle the draw or is missing (`answered` false: the host path
  // on the raw row). Same tokens as sample() on the same raw row.
  void prepare(Sequence& seq, int32_t vocab, SequenceRequest& r);
  void sample_prepared(Sequence& seq, const SequenceRequest& r, const SamplingCandidates* answer, RowSource& rows,
                       int32_t vocab, SampledToken& out);

  // "stop" when `token` is a stop id, or an eos id and eos is not ignored; else "".
  static const char* stop_reason(const Sequence& seq, int32_t token);

  const Sampler& sampler() const { return sampler_; }

 private:
  void prepare_counts(Sequence& seq, int32_t vocab);
  std::shared_ptr<const GrammarMask> grammar_mask(const Sequence& seq, int32_t vocab, std::vector<int32_t>& end_ids);
  bool advance_grammar(Sequence& seq, const SequenceRequest& r, int32_t token);
  void settle(Sequence& seq, const SequenceRequest& r, SampledToken& out);  // grammar state, counts, failure

  GrammarStore& grammars_;
  Sampler sampler_;
  SequenceRequest host_;        // the host path's request, reused
  std::vector<float> raw_row_;  // (vocab) a row fetched for the host path
  std::string failure_;
};

}  // namespace tidepool
