#include "token_masks.h"

#include <tuple>
#include <utility>

namespace tidepool {

void build_grammar_mask(const ByteAutomaton& automaton, const TokenVocab& vocab, int32_t state,
                        const std::vector<int32_t>& end_ids, int32_t row_vocab, GrammarMask& out) {
  out.mask.reset(row_vocab);
  out.accepting = automaton.accepting(state);
  const std::vector<TokenVocab::Node>& nodes = vocab.nodes();
  const std::vector<int32_t>& ids = vocab.token_ids();
  // (trie node, automaton state after the node's byte); only live pairs are pushed.
  std::vector<std::pair<int32_t, int32_t>> stack;
  auto push_children = [&](int32_t node, int32_t s) {
    for (int32_t c = nodes[node].first_child; c >= 0; c = nodes[c].next_sibling) {
      const int32_t next = automaton.step(s, nodes[c].byte);
      if (next >= 0) stack.emplace_back(c, next);
    }
  };
  push_children(0, state);
  while (!stack.empty()) {
    const auto [node, s] = stack.back();
    stack.pop_back();
    const TokenVocab::Node& n = nodes[node];
    for (int32_t k = 0; k < n.token_count; k++) {
      const int32_t id = ids[n.first_token + k];
      if (id < row_vocab) out.mask.allow(id);
    }
    push_children(node, s);
  }
  out.byte_tokens = out.mask.count;
  if (out.accepting)
    for (int32_t id : end_ids)
      if (id >= 0 && id < row_vocab) out.mask.allow(id);
  out.mask.finish();
}

bool TokenMaskCache::Key::operator<(const Key& o) const {
  return std::tie(automaton, vocab, state, row_vocab, end_ids) <
         std::tie(o.automaton, o.vocab, o.state, o.row_vocab, o.end_ids);
}

std::shared_ptr<const GrammarMask> TokenMaskCache::get(uint64_t automaton_key, const ByteAutomaton& automaton,
                                                       uint64_t vocab_key, const TokenVocab& vocab, int32_t state,
                                                       const std::vector<int32_t>& end_ids, int32_t row_vocab) {
  // The probe keeps its vector's capacity, so a hit allocates nothing.
  probe_.automaton = automaton_key;
  probe_.vocab = vocab_key;
  probe_.state = state;
  probe_.row_vocab = row_vocab;
  if (automaton.accepting(state)) probe_.end_ids.assign(end_ids.begin(), end_ids.end());
  else probe_.end_ids.clear();
  auto it = entries_.find(probe_);
  if (it != entries_.end()) {
    hits_++;
    recency_.splice(recency_.begin(), recency_, it->second.recency);
    return it->second.mask;
  }
  misses_++;
  auto mask = std::make_shared<GrammarMask>();
  build_grammar_mask(automaton, vocab, state, probe_.end_ids, row_vocab, *mask);
  auto [pos, inserted] = entries_.emplace(probe_, Entry{mask, {}});
  recency_.push_front(&pos->first);
  pos->second.recency = recency_.begin();
  bytes_ += mask->mask.bytes();
  while (bytes_ > budget_bytes_ && recency_.size() > 1) {
    auto victim = entries_.find(*recency_.back());
    bytes_ -= victim->second.mask->mask.bytes();
    recency_.pop_back();
    entries_.erase(victim);
  }
  return mask;
}

}  // namespace tidepool
