// Helpers for the grammar tests: automata and vocabularies written as the protocol's JSON, a plain
// reference for which tokens an automaton allows (a transition map, a fixpoint for "can still accept",
// and each token's bytes walked one by one), and base64 for token bytes.
#pragma once

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "json.h"

namespace tidepool::testing {

struct Quad {
  int from, lo, hi, to;
};

inline Json automaton_json(const std::string& name, int states, int start, std::vector<int> accepting,
                           const std::vector<Quad>& quads) {
  Json j = Json::object();
  j.set("op", "grammar");
  j.set("grammar", name);
  j.set("states", states);
  j.set("start", start);
  Json acc = Json::array(), flat = Json::array();
  for (int s : accepting) acc.push(s);
  for (const Quad& q : quads)
    for (int v : {q.from, q.lo, q.hi, q.to}) flat.push(v);
  j.set("accepting", std::move(acc));
  j.set("transitions", std::move(flat));
  return j;
}

inline std::string base64(const std::string& bytes) {
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

// tokens[id] = bytes; ids listed in `special` have none (null).
inline Json vocab_json(const std::string& name, const std::vector<std::string>& tokens, const std::set<int>& special) {
  Json j = Json::object();
  j.set("op", "vocab");
  j.set("vocab", name);
  Json list = Json::array();
  for (size_t id = 0; id < tokens.size(); id++)
    list.push(special.count(static_cast<int>(id)) ? Json() : Json(base64(tokens[id])));
  j.set("tokens", std::move(list));
  return j;
}

// The plain reference: allowed[id] for one state.
inline std::vector<bool> reference_allowed(int states, const std::vector<int>& accepting,
                                           const std::vector<Quad>& quads, int state,
                                           const std::vector<std::string>& tokens, const std::set<int>& special,
                                           const std::vector<int>& end_ids) {
  std::map<std::pair<int, int>, int> delta;
  for (const Quad& q : quads)
    for (int b = q.lo; b <= q.hi; b++) delta[{q.from, b}] = q.to;
  std::vector<bool> can_accept(states, false);
  for (int s : accepting) can_accept[s] = true;
  for (bool changed = true; changed;) {
    changed = false;
    for (const auto& [key, to] : delta)
      if (can_accept[to] && !can_accept[key.first]) can_accept[key.first] = changed = true;
  }
  std::vector<bool> allowed(tokens.size(), false);
  for (size_t id = 0; id < tokens.size(); id++) {
    if (special.count(static_cast<int>(id)) || tokens[id].empty()) continue;
    int s = state;
    bool ok = true;
    for (unsigned char b : tokens[id]) {
      auto it = delta.find({s, b});
      if (it == delta.end() || !can_accept[it->second]) {
        ok = false;
        break;
      }
      s = it->second;
    }
    allowed[id] = ok;
  }
  const bool accepting_state = std::find(accepting.begin(), accepting.end(), state) != accepting.end();
  for (int id : end_ids)
    if (accepting_state) allowed[id] = true;
  return allowed;
}

}  // namespace tidepool::testing
