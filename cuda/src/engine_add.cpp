// Admission of new sequences: checks against the model (when resident), the grammar they name, and the
// forks of an n > 1 add (engine_forks.cpp); they then wait in their model's queue.
#include <algorithm>

#include "engine_core.h"
#include "errors.h"

namespace tidepool {

void EngineCore::check_spec(const SequenceSpec& spec, const ModelConfig& config) const {
  auto check_ids = [&](const char* field, const std::vector<int32_t>& ids) {
    for (int32_t t : ids)
      if (t < 0 || t >= config.vocab_size)
        throw EngineError("bad_request", std::string(field) + " token " + std::to_string(t) +
                                             " outside the vocabulary of " + std::to_string(config.vocab_size));
  };
  check_ids("prompt", spec.prompt);
  check_ids("stop_ids", spec.stop_ids);
  check_ids("eos_ids", spec.eos_ids);
  for (const auto& [t, bias] : spec.sampling.logit_bias)
    if (t < 0 || t >= config.vocab_size)
      throw EngineError("bad_request", "logit_bias token " + std::to_string(t) + " outside the vocabulary of " +
                                           std::to_string(config.vocab_size));
  const int64_t total = static_cast<int64_t>(spec.prompt.size()) + spec.max_tokens;
  if (total > config.max_position_embeddings)
    throw EngineError("context_overflow", "prompt + max_tokens = " + std::to_string(total) +
                                              " exceeds the context of " +
                                              std::to_string(config.max_position_embeddings));
}

// The automaton and vocabulary a constrained sequence walks, resolved by name at add.
GrammarCursor EngineCore::grammar_cursor(const SequenceSpec& spec) {
  GrammarCursor cursor;
  if (spec.grammar.empty()) return cursor;
  cursor.grammar = grammars_.grammar(spec.grammar);
  if (!cursor.grammar) throw EngineError("not_found", "grammar " + spec.grammar + " is not registered");
  cursor.vocab = grammars_.vocab(spec.vocab);
  if (!cursor.vocab) throw EngineError("not_found", "vocab " + spec.vocab + " is not registered");
  if (spec.sampling.ignore_eos) throw EngineError("bad_request", "ignore_eos cannot be combined with grammar");
  if (spec.eos_ids.empty() && spec.stop_ids.empty())
    throw EngineError("bad_request", "grammar needs eos_ids or stop_ids: the ids that end the structure");
  cursor.state = cursor.grammar->automaton.start();
  return cursor;
}

void EngineCore::add(const SequenceSpec& spec) {
  if (seqs_.count(spec.id)) throw EngineError("bad_request", "sequence " + std::to_string(spec.id) + " already exists");
  for (size_t i = 0; i < spec.fork_ids.size(); i++) {
    const int64_t id = spec.fork_ids[i];
    const bool repeated =
        id == spec.id || std::find(spec.fork_ids.begin(), spec.fork_ids.begin() + i, id) != spec.fork_ids.begin() + i;
    if (repeated) throw EngineError("bad_request", "seqs lists sequence " + std::to_string(id) + " twice");
    if (seqs_.count(id)) throw EngineError("bad_request", "sequence " + std::to_string(id) + " already exists");
  }
  if (spec.prompt.empty()) throw EngineError("bad_request", "prompt is empty");
  if (spec.pooling != Pooling::None) {
    if (!spec.grammar.empty() || !spec.fork_ids.empty())
      throw EngineError("bad_request", "an embedding (embed) takes no grammar and no seqs");
  } else if (spec.max_tokens <= 0) {
    throw EngineError("bad_request", "max_tokens must be positive");
  }
  auto it = models_.find(spec.model);
  if (it != models_.end()) check_spec(spec, it->second.model->config);
  GrammarCursor cursor = grammar_cursor(spec);
  auto seq = std::make_unique<Sequence>();
  seq->grammar = std::move(cursor);
  seq->id = spec.id;
  seq->model = spec.model;
  seq->tokens = spec.prompt;
  seq->prompt_len = static_cast<int>(spec.prompt.size());
  seq->max_tokens = spec.pooling == Pooling::None ? spec.max_tokens : 0;  // an embedding samples nothing
  seq->sampling = spec.sampling;
  seq->stop_ids = spec.stop_ids;
  seq->eos_ids = spec.eos_ids;
  seq->want_logits = spec.want_logits;
  seq->all_logits = spec.all_logits;
  seq->pooling = spec.pooling;
  seq->rng = Rng(spec.sampling.seed);
  Sequence* raw = seq.get();
  add_forks(spec, *raw);
  seqs_[spec.id] = std::move(seq);
  scheduler_.add(raw);
}

}  // namespace tidepool
