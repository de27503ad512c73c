// Inputs for the JSON-schema mask row of the sampling benchmark, built here because no real tokenizer
// or schema compiler exists in C++:
//   - a BPE-like vocabulary of 151,936 ids (Qwen2.5's size): 256 single bytes, then distinct words from a
//     syllable generator with and without a leading space and capital, numbers, punctuation and JSON
//     runs (`":`, `",`, `{"`, ...), whitespace runs and CJK characters (3-byte UTF-8), average ~6 bytes;
//     the last 293 ids have no bytes (special tokens and padding, as in Qwen2.5), the first of them eos;
//   - the automaton a schema compiler would emit for {"name": string, "age": integer, "city": string,
//     "tags": [string], "active": boolean} (keys in order, one optional space after ':' and ','; strings
//     with escapes and UTF-8 validity), in the protocol's transition format.
#pragma once

#include <cstdint>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace tidepool::bench {

constexpr int32_t kJsonVocab = 151936;
constexpr int32_t kJsonEos = 151643;

inline std::vector<std::string> bpe_like_vocab() {
  std::vector<std::string> tokens;
  std::set<std::string> seen;
  auto add = [&](const std::string& t) {
    if (!t.empty() && seen.insert(t).second) tokens.push_back(t);
  };
  for (int b = 0; b < 256; b++) tokens.push_back(std::string(1, static_cast<char>(b)));
  for (int b = 0; b < 256; b++) seen.insert(std::string(1, static_cast<char>(b)));
  for (const char* s :
       {"\":", "\",", "{\"",  "\"}", "\":\"", "\": ", "\", \"", "},",    "],",   "[\"",   "\"]",   "{\n",
        "\n}", "  ",  "    ", "\n",  "\n\n",  " \"",  "true",   "false", "null", " true", " false"})
    add(s);
  for (int n = 0; n < 1000; n++) add(std::to_string(n));
  std::mt19937_64 rng(42);
  const std::vector<std::string> onsets = {"",   "b",  "c",  "d",  "f",  "g",  "h",  "j",  "k",  "l",
                                           "m",  "n",  "p",  "r",  "s",  "t",  "v",  "w",  "st", "tr",
                                           "pr", "ch", "sh", "th", "gr", "pl", "bl", "cl", "sp", "str"};
  const std::vector<std::string> nuclei = {"a", "e", "i", "o", "u", "ai", "ea", "ou", "io", "ee", "oo"};
  const std::vector<std::string> codas = {"", "", "n", "r", "s", "t", "l", "m", "nd", "ng", "st", "ck", "ght", "tion"};
  while (static_cast<int32_t>(tokens.size()) < kJsonEos) {
    const uint64_t kind = rng() % 20;
    if (kind == 0) {  // a CJK character or two
      std::string t;
      for (int k = 0; k < 1 + static_cast<int>(rng() % 2); k++) {
        const uint32_t cp = 0x4E00 + rng() % 20000;
        t += static_cast<char>(0xE0 | (cp >> 12));
        t += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        t += static_cast<char>(0x80 | (cp & 0x3F));
      }
      add(t);
      continue;
    }
    std::string word;
    for (int s = 0; s < 1 + static_cast<int>(rng() % 3); s++)
      word += onsets[rng() % onsets.size()] + nuclei[rng() % nuclei.size()] + codas[rng() % codas.size()];
    if (rng() % 4 == 0) word[0] = static_cast<char>(word[0] - 'a' + 'A');
    if (kind < 12) word = " " + word;
    if (kind == 19) word += std::string(1, ".,;:!?)\"'"[rng() % 9]);
    add(word);
  }
  while (static_cast<int32_t>(tokens.size()) < kJsonVocab) tokens.push_back("");  // specials and padding
  return tokens;
}

struct JsonAutomaton {
  int32_t states = 0;
  std::vector<int32_t> accepting;
  std::vector<int32_t> transitions;  // flattened [from, lo, hi, to]
};

class JsonAutomatonBuilder {
 public:
  JsonAutomaton build() {
    JsonAutomaton out;
    std::vector<int> at = {state()};
    at = literal(at, "{");
    const char* keys[] = {"name", "age", "city", "tags", "active"};
    for (int k = 0; k < 5; k++) {
      if (k) at = space(literal(at, ","));
      at = space(literal(at, std::string("\"") + keys[k] + "\":"));
      if (k == 1) at = integer(at);
      else if (k == 3) at = string_array(at);
      else if (k == 4) at = boolean(at);
      else at = {string(at)};
    }
    at = literal(at, "}");
    out.states = next_;
    out.accepting = {at[0]};
    out.transitions = quads_;
    return out;
  }

 private:
  int state() { return next_++; }
  void edge(const std::vector<int>& from, int lo, int hi, int to) {
    for (int f : from) quads_.insert(quads_.end(), {f, lo, hi, to});
  }
  std::vector<int> literal(std::vector<int> at, const std::string& s) {
    for (unsigned char c : s) {
      const int next = state();
      edge(at, c, c, next);
      at = {next};
    }
    return at;
  }
  std::vector<int> space(std::vector<int> at) {
    const int sp = state();
    edge(at, ' ', ' ', sp);
    at.push_back(sp);
    return at;
  }
  // "..." with escapes and UTF-8 sequences; returns the state after the closing quote.
  int string(const std::vector<int>& at) {
    const int body = state(), escape = state(), end = state();
    edge(at, '"', '"', body);
    edge({body}, 0x20, 0x21, body);
    edge({body}, 0x23, 0x5B, body);
    edge({body}, 0x5D, 0x7F, body);
    edge({body}, '\\', '\\', escape);
    edge({body}, '"', '"', end);
    for (char c : std::string("\"\\/bfnrt")) edge({escape}, c, c, body);
    int hex = state();
    edge({escape}, 'u', 'u', hex);
    for (int k = 0; k < 4; k++) {
      const int next = k == 3 ? body : state();
      edge({hex}, '0', '9', next);
      edge({hex}, 'a', 'f', next);
      edge({hex}, 'A', 'F', next);
      hex = next;
    }
    const int cont1 = state(), cont2 = state(), cont3 = state();  // 1, 2, 3 continuation bytes to go
    edge({cont1}, 0x80, 0xBF, body);
    edge({cont2}, 0x80, 0xBF, cont1);
    edge({cont3}, 0x80, 0xBF, cont2);
    edge({body}, 0xC2, 0xDF, cont1);
    edge({body}, 0xE0, 0xEF, cont2);
    edge({body}, 0xF0, 0xF4, cont3);
    return end;
  }
  std::vector<int> integer(const std::vector<int>& at) {
    const int minus = state(), zero = state(), digits = state();
    edge(at, '-', '-', minus);
    edge(at, '0', '0', zero);
    edge({minus}, '0', '0', zero);
    edge(at, '1', '9', digits);
    edge({minus}, '1', '9', digits);
    edge({digits}, '0', '9', digits);
    return {zero, digits};
  }
  std::vector<int> boolean(const std::vector<int>& at) {
    const std::vector<int> t = literal(literal(at, "t"), "rue"), f = literal(literal(at, "f"), "alse");
    return {t[0], f[0]};
  }
  // [] or ["..", ".."]: a comma always leads to one more item.
  std::vector<int> string_array(const std::vector<int>& at) {
    const int open = literal(at, "[")[0], close = state(), comma = state();
    edge({open}, ']', ']', close);
    const int first = string({open});
    const int later = string(space({comma}));
    for (int item : {first, later}) {
      edge({item}, ']', ']', close);
      edge({item}, ',', ',', comma);
    }
    return {close};
  }

  int next_ = 0;
  std::vector<int32_t> quads_;
};

}  // namespace tidepool::bench
