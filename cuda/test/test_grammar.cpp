// The engine half of constrained decoding, below the protocol: automaton registration (each malformed
// input refused by name; dead states pruned), the vocabulary trie, each state's token mask against a
// plain reference on random automata and vocabularies (duplicate, prefix and special tokens), end ids
// only in accepting states, and the mask cache's hits, budget and eviction.
#include <algorithm>
#include <iostream>
#include <random>

#include "errors.h"
#include "grammar/grammar_store.h"
#include "grammar_fixtures.h"
#include "test_support.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

std::string refusal(const Json& cmd) {
  try {
    ByteAutomaton::from_json(cmd);
  } catch (const EngineError& e) {
    CHECK(e.code() == "bad_request");
    return e.what();
  }
  return "";
}

void check_refusals() {
  CHECK(refusal(automaton_json("g", 0, 0, {}, {})) == "grammar: states must be an integer in [1, 262144]");
  CHECK(refusal(automaton_json("g", 2, 2, {1}, {})) == "grammar: start must be an integer in [0, 1]");
  CHECK(refusal(automaton_json("g", 2, 0, {5}, {})) == "grammar: accepting names a state outside [0, states)");
  CHECK(refusal(automaton_json("g", 2, 0, {1}, {{0, 97, 96, 1}})) ==
        "grammar: transition 0 needs 0 <= byte_lo <= byte_hi <= 255");
  CHECK(refusal(automaton_json("g", 2, 0, {1}, {{0, 97, 97, 2}})) ==
        "grammar: transition 0 names a state outside [0, states)");
  CHECK(refusal(automaton_json("g", 3, 0, {1, 2}, {{0, 97, 99, 1}, {0, 99, 99, 2}})) ==
        "grammar: state 0 has two transitions on byte 99 (not deterministic)");
  CHECK(refusal(automaton_json("g", 2, 0, {}, {{0, 97, 97, 1}})) ==
        "grammar: no accepting state is reachable from the start state");
  Json odd = automaton_json("g", 2, 0, {1}, {});
  Json three = Json::array();
  for (int v : {0, 97, 97}) three.push(v);
  odd.set("transitions", three);
  CHECK(refusal(odd) == "grammar: transitions must hold [from, byte_lo, byte_hi, to] quadruples, flattened");
  // 0 -a-> 1 (accepting), 0 -b-> 2 (a trap with no way out): b is not allowed from 0
  const ByteAutomaton a =
      ByteAutomaton::from_json(automaton_json("g", 3, 0, {1}, {{0, 'a', 'a', 1}, {0, 'b', 'b', 2}, {2, 'c', 'c', 2}}));
  CHECK(a.step(0, 'a') == 1 && a.step(0, 'b') == -1 && a.step(1, 'a') == -1);
  std::cout << "automaton: malformed inputs refused by name, states that cannot accept pruned\n";
}

std::vector<std::string> random_vocab(std::mt19937_64& rng, int n) {
  std::vector<std::string> tokens;
  const std::string alphabet = "abc{}\":,0 \x80\xff";
  for (int i = 0; i < n; i++) {
    std::string t;
    const int len = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < len; k++) t += alphabet[rng() % alphabet.size()];
    tokens.push_back(t);
  }
  tokens[1] = tokens[0];               // duplicate bytes
  tokens[2] = tokens[3].substr(0, 1);  // a prefix of another token
  return tokens;
}

void check_masks(std::mt19937_64& rng) {
  int masks = 0, allowed_total = 0;
  for (int round = 0; round < 60; round++) {
    const int states = 1 + static_cast<int>(rng() % 12);
    std::vector<Quad> quads;
    std::set<std::pair<int, int>> used;  // (state, byte) already defined: keep it deterministic
    for (int k = 0; k < states * 4; k++) {
      const int from = static_cast<int>(rng() % states), lo = static_cast<int>(rng() % 256);
      const int hi = std::min(255, lo + static_cast<int>(rng() % 40));
      bool clash = false;
      for (int b = lo; b <= hi; b++) clash = clash || used.count({from, b});
      if (clash) continue;
      for (int b = lo; b <= hi; b++) used.insert({from, b});
      quads.push_back({from, lo, hi, static_cast<int>(rng() % states)});
    }
    std::vector<int> accepting = {static_cast<int>(rng() % states)};
    const std::vector<std::string> tokens = random_vocab(rng, 300);
    const std::set<int> special = {298, 299};
    const std::vector<int> end_ids = {299};
    Json cmd = automaton_json("g", states, 0, accepting, quads);
    ByteAutomaton automaton;
    try {
      automaton = ByteAutomaton::from_json(cmd);
    } catch (const EngineError&) {
      continue;  // start cannot accept: refused, as check_refusals covers
    }
    const TokenVocab vocab = TokenVocab::from_json(vocab_json("v", tokens, special));
    for (int s = 0; s < states; s++) {
      GrammarMask got;
      build_grammar_mask(automaton, vocab, s, {299}, 310, got);  // row wider than the vocabulary
      const std::vector<bool> want = reference_allowed(states, accepting, quads, s, tokens, special, end_ids);
      for (int id = 0; id < 310; id++) CHECK(got.mask.allows(id) == (id < 300 && want[id]));
      CHECK(got.accepting == (std::find(accepting.begin(), accepting.end(), s) != accepting.end()));
      masks++;
      allowed_total += got.mask.count;
    }
  }
  std::cout << "masks: " << masks << " states of random automata over random vocabularies equal the reference ("
            << allowed_total << " allowed ids)\n";
}

void check_cache() {
  const std::vector<std::string> tokens = {"a", "b", "ab", "ba", "x"};
  const TokenVocab vocab = TokenVocab::from_json(vocab_json("v", tokens, {4}));
  const ByteAutomaton a =
      ByteAutomaton::from_json(automaton_json("g", 3, 0, {2}, {{0, 'a', 'a', 1}, {1, 'b', 'b', 2}, {2, 'a', 'a', 1}}));
  TokenMaskCache cache(1);  // every new entry pushes the older ones out
  auto m0 = cache.get(1, a, 1, vocab, 0, {4}, 5);
  CHECK(m0->mask.allows(0) && m0->mask.allows(2) && !m0->mask.allows(1) && !m0->mask.allows(4));  // a, ab
  auto m2 = cache.get(1, a, 1, vocab, 2, {4}, 5);
  CHECK(m2->accepting && m2->mask.allows(0) && m2->mask.allows(4) && m2->byte_tokens == 2);  // a, ab, end
  CHECK(cache.entries() == 1 && cache.misses() == 2);
  CHECK(m0->mask.allows(2));  // still held by its user after eviction
  auto again = cache.get(1, a, 1, vocab, 2, {4}, 5);
  CHECK(again == m2 && cache.hits() == 1);
  std::cout << "cache: hits return the same mask, a tiny budget evicts, masks in use survive eviction\n";
}

}  // namespace

int main() {
  check_refusals();
  std::mt19937_64 rng(11);
  check_masks(rng);
  check_cache();
  std::cout << "PASS\n";
  return 0;
}
