// Embedding sequences: prefilled like any other (their K/V is written and their blocks freed when they end),
// but the backend returns the final hidden states (after the final norm) instead of logits, and the sequence
// ends at once with those states pooled (mean over the prompt, or the last position) and L2-normalised in
// its done event. Nothing is sampled. Pooling runs here, on the host, so every backend pools alike.
#include <cmath>

#include "engine_core.h"
#include "errors.h"

namespace tidepool {

namespace {

// (hidden) pooled over the rows of `states` (n_tokens, hidden), then scaled to unit length; in double, so
// the result does not depend on the prompt's length beyond float rounding of the states themselves.
std::vector<float> pool_and_normalise(const std::vector<float>& states, int n_tokens, int hidden, Pooling pooling) {
  std::vector<double> sum(static_cast<size_t>(hidden), 0.0);
  const int first = pooling == Pooling::Last ? n_tokens - 1 : 0;
  for (int t = first; t < n_tokens; t++)
    for (int i = 0; i < hidden; i++) sum[i] += states[static_cast<size_t>(t) * hidden + i];
  double norm = 0;
  for (double v : sum) norm += v * v;
  norm = std::sqrt(norm);
  std::vector<float> out(static_cast<size_t>(hidden));
  for (int i = 0; i < hidden; i++) out[i] = static_cast<float>(norm > 0 ? sum[i] / norm : 0.0);
  return out;
}

}  // namespace

void EngineCore::run_embeddings(const ResidentModel& rm, const std::vector<Sequence*>& seqs, StepResult& out) {
  const int hidden = rm.model->config.hidden_size;
  std::vector<float> states;
  for (Sequence* seq : seqs) {
    // A preempted embedding lost its K/V and is recomputed whole, so every prompt position is computed here.
    BatchEntry e;
    e.start_pos = seq->num_cached;
    e.tokens = seq->tokens.data() + seq->num_cached;
    e.n_tokens = seq->len() - seq->num_cached;
    e.pages = seq->pages.data();
    e.n_pages = static_cast<int>(seq->pages.size());
    if (e.start_pos != 0) {
      fail(seq, "internal", "internal: an embedding resumed mid-prompt", out.done);
      continue;
    }
    states.assign(static_cast<size_t>(e.n_tokens) * hidden, 0.0f);  // (n_tokens, hidden)
    try {
      backend_->forward_hidden(rm.slot, e, states.data());
    } catch (...) {
      forward_failed(ScheduledBatch{{seq}, e.n_tokens}, out);  // rethrows device_lost
      continue;
    }
    seq->num_cached = seq->len();
    std::vector<float> embedding = pool_and_normalise(states, e.n_tokens, hidden, seq->pooling);
    finish(seq, "stop", "", out.done);
    out.done.back().embedding = std::move(embedding);
  }
}

}  // namespace tidepool
