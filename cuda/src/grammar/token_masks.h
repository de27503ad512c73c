// Per (vocab, automaton, state) the ids that may come next: every token whose bytes the automaton can
// walk from the state without leaving its live part, and, in accepting states only, the sequence's end
// ids (eos and stop). A state whose only way on is to end therefore forces an end id.
//
// Masks are built lazily by walking the vocabulary trie beside the automaton, and cached under a byte
// budget, least recently used first out. Sequences hold the masks they use (shared_ptr), so eviction
// never frees a mask in use.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <vector>

#include "byte_automaton.h"
#include "sampling/token_mask.h"
#include "token_vocab.h"

namespace tidepool {

struct GrammarMask {
  TokenMask mask;           // (row vocab)
  int32_t byte_tokens = 0;  // allowed ids that are not end ids
  bool accepting = false;
};

// Builds one mask from scratch (the cache's miss path; also the tests' subject).
void build_grammar_mask(const ByteAutomaton& automaton, const TokenVocab& vocab, int32_t state,
                        const std::vector<int32_t>& end_ids, int32_t row_vocab, GrammarMask& out);

class TokenMaskCache {
 public:
  explicit TokenMaskCache(size_t budget_bytes) : budget_bytes_(budget_bytes) {}

  // `automaton_key` and `vocab_key` identify the registrations (never reused); end_ids sorted, unique.
  std::shared_ptr<const GrammarMask> get(uint64_t automaton_key, const ByteAutomaton& automaton, uint64_t vocab_key,
                                         const TokenVocab& vocab, int32_t state, const std::vector<int32_t>& end_ids,
                                         int32_t row_vocab);

  size_t bytes() const { return bytes_; }
  size_t entries() const { return entries_.size(); }
  int64_t hits() const { return hits_; }
  int64_t misses() const { return misses_; }

 private:
  struct Key {
    uint64_t automaton, vocab;
    int32_t state, row_vocab;
    std::vector<int32_t> end_ids;  // empty unless the state is accepting
    bool operator<(const Key& o) const;
  };
  struct Entry {
    std::shared_ptr<const GrammarMask> mask;
    std::list<const Key*>::iterator recency;
  };

  size_t budget_bytes_;
  size_t bytes_ = 0;
  int64_t hits_ = 0, misses_ = 0;
  Key probe_{};  // the key being looked up
  std::map<Key, Entry> entries_;
  std::list<const Key*> recency_;  // front = most recent
};

}  // namespace tidepool
