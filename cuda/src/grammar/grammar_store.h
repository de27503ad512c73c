// The engine's registry of token vocabularies and byte automata, by name, as the protocol's `vocab` and
// `grammar` commands register them, plus the cache of their token masks. Automata are kept under a byte
// budget, least recently used first out (the control plane registers again when `add` answers
// not_found); sequences hold what they use, so dropping a name never pulls anything from under them.
#pragma once

#include <cstdint>
#include <list>
#include <map>
#include <memory>
#include <string>

#include "byte_automaton.h"
#include "json.h"
#include "token_masks.h"
#include "token_vocab.h"

namespace tidepool {

struct RegisteredVocab {
  uint64_t key = 0;  // unique per registration, for the mask cache
  TokenVocab vocab;
};

struct RegisteredGrammar {
  uint64_t key = 0;
  ByteAutomaton automaton;
};

class GrammarStore {
 public:
  static constexpr size_t kGrammarBudgetBytes = size_t(256) << 20;
  static constexpr size_t kMaskBudgetBytes = size_t(64) << 20;

  GrammarStore() : masks_(kMaskBudgetBytes) {}

  // The commands; each returns its reply fields or throws EngineError (bad_request).
  Json register_vocab(const Json& cmd);
  Json register_grammar(const Json& cmd);

  std::shared_ptr<const RegisteredVocab> vocab(const std::string& name) const;  // null when unknown
  std::shared_ptr<const RegisteredGrammar> grammar(const std::string& name);    // null when unknown
  TokenMaskCache& masks() { return masks_; }
  Json stats() const;

 private:
  void evict_grammars();

  uint64_t next_key_ = 1;
  std::map<std::string, std::shared_ptr<const RegisteredVocab>> vocabs_;
  std::map<std::string, std::shared_ptr<const RegisteredGrammar>> grammars_;
  std::list<std::string> grammar_recency_;  // front = most recently registered or used
  size_t grammar_bytes_ = 0;
  TokenMaskCache masks_;
};

}  // namespace tidepool
