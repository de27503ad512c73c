// n > 1 on one prompt: the first sequence of an `add` is prefilled; the others wait beside it as pending
// forks and start from its prefill. In the step that prefilled the parent, each child samples its own
// first token (its own seed) from the parent's raw row, and takes the parent's KV pages: the prompt's full
// blocks by reference (the block manager counts them) and a copy of the last, partial block, which each
// sequence goes on writing (copy on write at the fork). A child that finds no pages for that copy, or
// whose parent ends before its prefill, becomes an ordinary waiting sequence and prefills itself: same
// tokens, prefill not saved.
#include "engine_core.h"
#include "errors.h"

namespace tidepool {

void EngineCore::add_forks(const SequenceSpec& spec, Sequence& parent) {
  for (size_t i = 0; i < spec.fork_ids.size(); i++) {
    auto child = std::make_unique<Sequence>();
    child->id = spec.fork_ids[i];
    child->model = parent.model;
    child->tokens = parent.tokens;
    child->prompt_len = parent.prompt_len;
    child->max_tokens = parent.max_tokens;
    child->sampling = parent.sampling;
    child->sampling.seed = i < spec.fork_seeds.size() ? spec.fork_seeds[i] : spec.sampling.seed + i + 1;
    child->rng = Rng(child->sampling.seed);
    child->stop_ids = parent.stop_ids;
    child->eos_ids = parent.eos_ids;
    child->want_logits = parent.want_logits;
    child->grammar = parent.grammar;
    child->fork_parent = parent.id;
    parent.pending_forks.push_back(child->id);
    seqs_[child->id] = std::move(child);
  }
}

bool EngineCore::share_kv(Sequence& parent, Sequence& child, const ResidentModel& rm) {
  const int ppb = rm.layout.pages_per_block;
  std::vector<int32_t> copy_from, copy_to;
  if (!scheduler_.blocks().fork(parent, child, ppb, copy_from, copy_to)) return false;
  if (!copy_from.empty()) {
    kv_copy_.resize(copy_from.size() * memory_.plan().kv_page_bytes);
    backend_->kv_to_host(copy_from, kv_copy_.data());
    backend_->kv_from_host(copy_to, kv_copy_.data());
  }
  child.num_cached = parent.num_cached;
  forked_prefill_tokens_saved_ += parent.num_cached;
  return true;
}

void EngineCore::start_forks(Sequence* parent, const ResidentModel& rm, StepResult& out) {
  const int vocab = rm.model->config.vocab_size;
  std::vector<float> row;
  for (int64_t id : parent->pending_forks) {
    auto it = seqs_.find(id);
    if (it == seqs_.end() || it->second->fork_parent != parent->id) continue;  // cancelled meanwhile
    Sequence* child = it->second.get();
    child->fork_parent = -1;
    TokenEvent ev;
    ev.seq = id;
    if (child->want_logits) ev.logits = fork_row_;
    const bool shared = share_kv(*parent, *child, rm);
    if (shared) scheduler_.adopt_running(child);
    row = fork_row_;
    if (!take_token(child, row.data(), vocab, std::move(ev), out)) continue;
    if (!shared) scheduler_.add(child);  // recomputes prompt and first token when admitted
    finish_if_done(child, rm, out);
  }
  parent->pending_forks.clear();
}

void EngineCore::release_forks(Sequence& parent) {
  for (int64_t id : parent.pending_forks) {
    auto it = seqs_.find(id);
    if (it == seqs_.end() || it->second->fork_parent != parent.id) continue;
    it->second->fork_parent = -1;
    scheduler_.add(it->second.get());
  }
  parent.pending_forks.clear();
}

}  // namespace tidepool
