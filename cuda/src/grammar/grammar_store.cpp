#include "grammar_store.h"

#include <algorithm>

#include "errors.h"

namespace tidepool {

namespace {

std::string name_of(const Json& cmd, const char* key) {
  const Json* v = cmd.find(key);
  if (!v || !v->is_string() || v->as_string().empty() || v->as_string().size() > 256)
    throw EngineError("bad_request", std::string(key) + " must be a name of 1 to 256 characters");
  return v->as_string();
}

}  // namespace

Json GrammarStore::register_vocab(const Json& cmd) {
  const std::string name = name_of(cmd, "vocab");
  auto entry = std::make_shared<RegisteredVocab>();
  entry->vocab = TokenVocab::from_json(cmd);
  entry->key = next_key_++;
  Json reply = Json::object();
  reply.set("tokens", entry->vocab.size());
  reply.set("trie_nodes", static_cast<int64_t>(entry->vocab.nodes().size()));
  reply.set("bytes", static_cast<int64_t>(entry->vocab.bytes()));
  vocabs_[name] = std::move(entry);
  return reply;
}

Json GrammarStore::register_grammar(const Json& cmd) {
  const std::string name = name_of(cmd, "grammar");
  auto entry = std::make_shared<RegisteredGrammar>();
  entry->automaton = ByteAutomaton::from_json(cmd);
  entry->key = next_key_++;
  if (entry->automaton.bytes() > kGrammarBudgetBytes)
    throw EngineError("bad_request", "grammar: larger than the grammar budget");
  auto old = grammars_.find(name);
  if (old != grammars_.end()) {
    grammar_bytes_ -= old->second->automaton.bytes();
    grammar_recency_.remove(name);
  }
  Json reply = Json::object();
  reply.set("states", entry->automaton.states());
  reply.set("classes", entry->automaton.classes());
  reply.set("bytes", static_cast<int64_t>(entry->automaton.bytes()));
  grammar_bytes_ += entry->automaton.bytes();
  grammars_[name] = std::move(entry);
  grammar_recency_.push_front(name);
  evict_grammars();
  return reply;
}

void GrammarStore::evict_grammars() {
  while (grammar_bytes_ > kGrammarBudgetBytes && grammar_recency_.size() > 1) {
    auto it = grammars_.find(grammar_recency_.back());
    grammar_bytes_ -= it->second->automaton.bytes();
    grammars_.erase(it);
    grammar_recency_.pop_back();
  }
}

std::shared_ptr<const RegisteredVocab> GrammarStore::vocab(const std::string& name) const {
  auto it = vocabs_.find(name);
  return it == vocabs_.end() ? nullptr : it->second;
}

std::shared_ptr<const RegisteredGrammar> GrammarStore::grammar(const std::string& name) {
  auto it = grammars_.find(name);
  if (it == grammars_.end()) return nullptr;
  auto pos = std::find(grammar_recency_.begin(), grammar_recency_.end(), name);
  grammar_recency_.splice(grammar_recency_.begin(), grammar_recency_, pos);
  return it->second;
}

Json GrammarStore::stats() const {
  Json j = Json::object();
  j.set("vocabs", static_cast<int64_t>(vocabs_.size()));
  j.set("grammars", static_cast<int64_t>(grammars_.size()));
  j.set("grammar_bytes", static_cast<int64_t>(grammar_bytes_));
  j.set("masks", static_cast<int64_t>(masks_.entries()));
  j.set("mask_bytes", static_cast<int64_t>(masks_.bytes()));
  j.set("mask_hits", masks_.hits());
  j.set("mask_misses", masks_.misses());
  return j;
}

}  // namespace tidepool
