// The JSON-schema mask row of the sampling benchmark: sequences generated under the JSON-object
// automaton of json_grammar.h over its 151,936-id vocabulary, through the engine's own SequenceSampler
// (mask lookup, masked sampling, automaton step), restarted at eos or after 48 tokens. Warm: every
// state's mask is cached, as it is after a schema's first few requests. Cold: building one state's
// mask from scratch (a walk of the vocabulary trie), the cost of a mask-cache miss.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "grammar/grammar_store.h"
#include "json_grammar.h"
#include "sampling_bench_modes.h"
#include "sequence_sampling.h"

namespace tidepool::bench {

struct GrammarTiming {
  Timing warm;
  double vocab_register_ms = 0, cold_mask_ms = 0;
  int32_t states = 0, trie_nodes = 0;
  double dense_fraction = 0;  // tokens sampled under a mask too large to list
};

inline std::string base64_of(const std::string& bytes) {
  static const char* abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (size_t i = 0; i < bytes.size(); i += 3) {
    uint32_t w = static_cast<uint8_t>(bytes[i]) << 16;
    if (i + 1 < bytes.size()) w |= static_cast<uint8_t>(bytes[i + 1]) << 8;
    if (i + 2 < bytes.size()) w |= static_cast<uint8_t>(bytes[i + 2]);
    out += abc[(w >> 18) & 63];
    out += abc[(w >> 12) & 63];
    out += i + 1 < bytes.size() ? abc[(w >> 6) & 63] : '=';
    out += i + 2 < bytes.size() ? abc[w & 63] : '=';
  }
  return out;
}

inline void register_json_grammar(GrammarStore& store, GrammarTiming& t) {
  Json vocab = Json::object();
  vocab.set("vocab", "bench");
  Json tokens = Json::array();
  for (const std::string& bytes : bpe_like_vocab()) tokens.push(bytes.empty() ? Json() : Json(base64_of(bytes)));
  vocab.set("tokens", std::move(tokens));
  const double t0 = now_us();
  t.trie_nodes = static_cast<int32_t>(store.register_vocab(vocab).find("trie_nodes")->as_int());
  t.vocab_register_ms = (now_us() - t0) / 1000;
  const JsonAutomaton a = JsonAutomatonBuilder().build();
  Json g = Json::object();
  g.set("grammar", "json");
  g.set("states", a.states);
  g.set("start", 0);
  Json accepting = Json::array(), quads = Json::array();
  for (int32_t s : a.accepting) accepting.push(s);
  for (int32_t v : a.transitions) quads.push(v);
  g.set("accepting", std::move(accepting));
  g.set("transitions", std::move(quads));
  store.register_grammar(g);
  t.states = a.states;
}

inline void restart(Sequence& seq, int32_t start) {
  seq.tokens.resize(seq.prompt_len);
  seq.grammar.state = start;
}

class JsonWorkload : public Workload {
 public:
  explicit JsonWorkload(const std::vector<std::vector<float>>& rows) : rows_(rows), sampler_(store_) {
    register_json_grammar(store_, info_);
    grammar_ = store_.grammar("json");
    vocab_ = store_.vocab("bench");
    double cold_us = 0;
    for (int32_t s = 0; s < info_.states; s++) {
      GrammarMask mask;
      const double t0 = now_us();
      build_grammar_mask(grammar_->automaton, vocab_->vocab, s, {kJsonEos}, kJsonVocab, mask);
      cold_us += now_us() - t0;
    }
    info_.cold_mask_ms = cold_us / info_.states / 1000;
    seq_.tokens = {1, 2, 3};
    seq_.prompt_len = 3;
    seq_.max_tokens = 1 << 20;
    seq_.sampling.temperature = 0.7f;
    seq_.eos_ids = {kJsonEos};
    seq_.grammar = {grammar_, vocab_, grammar_->automaton.start()};
  }
  void call(int i) override {
    row_ = rows_[i % rows_.size()];  // the grammar's mask never writes the row, but keep rows pristine anyway
    state_ = seq_.grammar.state;
    sampler_.sample(seq_, row_.data(), kJsonVocab, out_);
  }
  void after(int i) override {
    sampled_++;
    dense_ += !store_.masks()
                   .get(grammar_->key, grammar_->automaton, vocab_->key, vocab_->vocab, state_, {kJsonEos}, kJsonVocab)
                   ->mask.listed;
    if (out_.token < 0 || out_.token == kJsonEos || seq_.completion_tokens() >= 48)
      restart(seq_, grammar_->automaton.start());
    else seq_.tokens.push_back(out_.token);
  }
  GrammarTiming grammar_timing() {
    info_.warm = timing();
    info_.dense_fraction = static_cast<double>(dense_) / std::max(sampled_, 1);
    return info_;
  }

 private:
  const std::vector<std::vector<float>>& rows_;
  GrammarStore store_;
  SequenceSampler sampler_;
  GrammarTiming info_;
  std::shared_ptr<const RegisteredGrammar> grammar_;
  std::shared_ptr<const RegisteredVocab> vocab_;
  Sequence seq_;
  SampledToken out_;
  std::vector<float> row_;
  int32_t state_ = 0;
  int sampled_ = 0, dense_ = 0;
};

}  // namespace tidepool::bench
