// The step's postprocess: each sequence's row of logits becomes its next token (sampling), its event, and
// its end when a stop id, max_tokens or the context is reached. A sequence whose prefill this step ran
// also starts the forks waiting on it (engine_forks.cpp) from the same raw row.
#include "engine_core.h"

namespace tidepool {

// Samples seq's next token from its raw `row` (processed in place), appends it and emits `ev`; false
// when no token could be chosen (the sequence has then finished with an error).
bool EngineCore::take_token(Sequence* seq, float* row, int vocab, TokenEvent ev, StepResult& out) {
  sampler_.sample(*seq, row, vocab, sampled_);
  return emit_sampled(seq, std::move(ev), out);
}

// sampled_ becomes seq's next token and `ev` is emitted; false when no token could be chosen (the
// sequence has then finished with an error).
bool EngineCore::emit_sampled(Sequence* seq, TokenEvent ev, StepResult& out) {
  if (sampled_.token < 0) {
    fail(seq, "internal", sampler_.failure(), out.done);
    return false;
  }
  ev.token = sampled_.token;
  ev.has_logprob = sampled_.has_logprob;
  ev.logprob = sampled_.logprob;
  ev.top_logprobs = sampled_.top;
  seq->tokens.push_back(ev.token);
  out.tokens.push_back(std::move(ev));
  return true;
}

void EngineCore::finish_if_done(Sequence* seq, const ResidentModel& rm, StepResult& out) {
  const std::string stop = SequenceSampler::stop_reason(*seq, seq->last_token());
  if (!stop.empty()) finish(seq, stop, "", out.done);
  else if (seq->completion_tokens() >= seq->max_tokens || seq->len() >= rm.model->config.max_position_embeddings)
    finish(seq, "length", "", out.done);
}

void EngineCore::postprocess(const ResidentModel& rm, const ScheduledBatch& batch, std::vector<float>& logits,
                             StepResult& out) {
  const int vocab = rm.model->config.vocab_size;
  size_t row = 0;
  for (Sequence* seq : batch.seqs) {
    const bool prefill = seq->num_cached == 0;
    const bool all = seq->all_logits && prefill;
    const size_t n_rows = all ? seq->len() : 1;
    float* last = &logits[(row + n_rows - 1) * vocab];
    TokenEvent ev;
    ev.seq = seq->id;
    if (all) ev.logits.assign(&logits[row * vocab], &logits[(row + n_rows) * vocab]);
    else if (seq->want_logits) ev.logits.assign(last, last + vocab);
    row += n_rows;
    seq->num_cached = seq->len();
    const bool forking = prefill && !seq->pending_forks.empty();
    if (forking) fork_row_.assign(last, last + vocab);  // stage 1 edits `last` in place
    if (!take_token(seq, last, vocab, std::move(ev), out)) continue;
    if (forking) start_forks(seq, rm, out);
    finish_if_done(seq, rm, out);
  }
}

}  // namespace tidepool
