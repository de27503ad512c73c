#include "sequence_sampling.h"

#include <algorithm>

namespace tidepool {

namespace {

bool contains(const std::vector<int32_t>& ids, int32_t id) {
  return std::find(ids.begin(), ids.end(), id) != ids.end();
}

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

std::shared_ptr<const GrammarMask> SequenceSampler::grammar_mask(const Sequence& seq, int32_t vocab,
                                                                 std::vector<int32_t>& end_ids) {
  end_ids = seq.stop_ids;
  end_ids.insert(end_ids.end(), seq.eos_ids.begin(), seq.eos_ids.end());
  std::sort(end_ids.begin(), end_ids.end());
  end_ids.erase(std::unique(end_ids.begin(), end_ids.end()), end_ids.end());
  const GrammarCursor& g = seq.grammar;
  return grammars_.masks().get(g.grammar->key, g.grammar->automaton, g.vocab->key, g.vocab->vocab, g.state, end_ids,
                               vocab);
}

// Walks the token's bytes; end ids (which finish the sequence) leave the state as it is.
bool SequenceSampler::advance_grammar(Sequence& seq, const SequenceRequest& r, int32_t token) {
  GrammarCursor& g = seq.grammar;
  if (std::binary_search(r.end_ids.begin(), r.end_ids.end(), token)) return true;
  const TokenVocab& v = g.vocab->vocab;
  const int32_t next =
      token < v.size() ? g.grammar->automaton.walk(g.state, v.token_bytes(token), v.token_length(token)) : -1;
  if (next < 0) {
    failure_ = "grammar: token " + std::to_string(token) + " leaves the automaton at state " + std::to_string(g.state);
    return false;
  }
  g.state = next;
  return true;
}

SampleRequest SequenceRequest::request(Sequence& seq) const {
  SampleRequest request;
  request.params = &seq.sampling;
  request.rng = &seq.rng;
  request.counts = &seq.counts;
  request.masked = &masked;
  request.allowed = mask ? &mask->mask : nullptr;
  return request;
}

void SequenceSampler::prepare(Sequence& seq, int32_t vocab, SequenceRequest& r) {
  prepare_counts(seq, vocab);
  r.mask = seq.grammar.grammar ? grammar_mask(seq, vocab, r.end_ids) : nullptr;
  r.masked.clear();
  if (seq.completion_tokens() < seq.sampling.min_tokens && (!r.mask || r.mask->byte_tokens > 0)) {
    r.masked = seq.stop_ids;
    if (!seq.sampling.ignore_eos) r.masked.insert(r.masked.end(), seq.eos_ids.begin(), seq.eos_ids.end());
  }
}

void SequenceSampler::settle(Sequence& seq, const SequenceRequest& r, SampledToken& out) {
  if (out.token < 0) {
    failure_ = r.mask ? "grammar: no token can continue from state " + std::to_string(seq.grammar.state)
                      : "every token was masked";
    return;
  }
  if (r.mask && !advance_grammar(seq, r, out.token)) {
    out.token = -1;
    return;
  }
  if (seq.counts.ready()) seq.counts.add_output(out.token);
}

void SequenceSampler::sample(Sequence& seq, float* row, int32_t vocab, SampledToken& out) {
  prepare(seq, vocab, host_);
  sampler_.sample(host_.request(seq), row, vocab, out);
  settle(seq, host_, out);
}

void SequenceSampler::sample_prepared(Sequence& seq, const SequenceRequest& r, const SamplingCandidates* answer,
                                      RowSource& rows, int32_t vocab, SampledToken& out) {
  if (answer) {
    sampler_.sample_prepared(r.request(seq), *answer, rows, out);
  } else {
    raw_row_.assign(rows.raw(), rows.raw() + vocab);
    sampler_.sample(r.request(seq), raw_row_.data(), vocab, out);
  }
  settle(seq, r, out);
}

const char* SequenceSampler::stop_reason(const Sequence& seq, int32_t token) {
  if (contains(seq.stop_ids, token)) return "stop";
  if (!seq.sampling.ignore_eos && contains(seq.eos_ids, token)) return "stop";
  return "";
}

}  // namespace tidepool
