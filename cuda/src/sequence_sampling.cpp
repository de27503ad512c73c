#include "sequence_sampling.h"

#include <algorithm>

namespace tidepool {

namespace {

bool contains(const std::vector<int32_t>& ids, int32_t id) { return std::find(ids.begin(), ids.end(), id) != ids.end(); }

}  // namespace

// Counts are built on the first sample, when the vocabulary is known, sized for the sequence's life.
void SequenceSampler::prepare_counts(Sequence& seq, int32_t vocab) {
  if (!seq.sampling.penalizes() || seq.counts.ready()) return;
  const int64_t life = static_cast<int64_t>(seq.prompt_len) + seq.max_tokens;
  seq.counts.reset(static_cast<int32_t>(std::min<int64_t>(vocab, life)));
  for (int i = 0; i < seq.len(); i++) {
    if (i < seq.prompt_len) seq.counts.add_prompt(seq.tokens[i]);
    else seq.counts.add_output(seq.tokens[i]);
  }
}

void SequenceSampler::sample(Sequence& seq, float* row, int32_t vocab, SampledToken& out) {
  prepare_counts(seq, vocab);
  masked_.clear();
  if (seq.completion_tokens() < seq.sampling.min_tokens) {
    masked_ = seq.stop_ids;
    if (!seq.sampling.ignore_eos) masked_.insert(masked_.end(), seq.eos_ids.begin(), seq.eos_ids.end());
  }
  SampleRequest request;
  request.params = &seq.sampling;
  request.rng = &seq.rng;
  request.counts = &seq.counts;
  request.masked = &masked_;
  sampler_.sample(request, row, vocab, out);
  if (out.token >= 0 && seq.counts.ready()) seq.counts.add_output(out.token);
}

const char* SequenceSampler::stop_reason(const Sequence& seq, int32_t token) {
  if (contains(seq.stop_ids, token)) return "stop";
  if (!seq.sampling.ignore_eos && contains(seq.eos_ids, token)) return "stop";
  return "";
}

}  // namespace tidepool
