#include "byte_automaton.h"

#include <algorithm>

#include "errors.h"

namespace tidepool {

namespace {

[[noreturn]] void refuse(const std::string& message) { throw EngineError("bad_request", "grammar: " + message); }

int64_t int_of(const Json& cmd, const char* key, int64_t lo, int64_t hi) {
  const Json* v = cmd.find(key);
  if (!v || !v->is_int() || v->as_int() < lo || v->as_int() > hi)
    refuse(std::string(key) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v->as_int();
}

const Json::Array& array_of(const Json& cmd, const char* key) {
  const Json* v = cmd.find(key);
  if (!v || !v->is_array()) refuse(std::string(key) + " must be an array of integers");
  return v->as_array();
}

struct Transition {
  int32_t from, lo, hi, to;
};

std::vector<Transition> transitions_of(const Json& cmd, int32_t states) {
  const Json::Array& flat = array_of(cmd, "transitions");
  if (flat.size() % 4) refuse("transitions must hold [from, byte_lo, byte_hi, to] quadruples, flattened");
  if (static_cast<int64_t>(flat.size() / 4) > AutomatonLimits::kMaxTransitions)
    refuse("more than " + std::to_string(AutomatonLimits::kMaxTransitions) + " transitions");
  std::vector<Transition> out(flat.size() / 4);
  for (size_t i = 0; i < out.size(); i++) {
    int64_t v[4];
    for (int k = 0; k < 4; k++) {
      const Json& x = flat[4 * i + k];
      if (!x.is_int()) refuse("transition " + std::to_string(i) + " holds a non-integer");
      v[k] = x.as_int();
    }
    const std::string where = "transition " + std::to_string(i);
    if (v[0] < 0 || v[0] >= states || v[3] < 0 || v[3] >= states) refuse(where + " names a state outside [0, states)");
    if (v[1] < 0 || v[2] > 255 || v[1] > v[2]) refuse(where + " needs 0 <= byte_lo <= byte_hi <= 255");
    out[i] = {static_cast<int32_t>(v[0]), static_cast<int32_t>(v[1]), static_cast<int32_t>(v[2]),
              static_cast<int32_t>(v[3])};
  }
  return out;
}

// Byte classes: a new class starts at every range boundary.
int32_t make_classes(const std::vector<Transition>& ts, std::array<uint8_t, 256>& class_of) {
  std::array<bool, 257> cut{};
  cut[0] = true;
  for (const Transition& t : ts) cut[t.lo] = cut[t.hi + 1] = true;
  int32_t c = -1;
  for (int b = 0; b < 256; b++) class_of[b] = static_cast<uint8_t>(c += cut[b] ? 1 : 0);
  return c + 1;
}

// States from which an accepting state is reachable, by a backwards search.
std::vector<uint8_t> live_states(int32_t states, const std::vector<Transition>& ts,
                                 const std::vector<uint8_t>& accepting) {
  std::vector<std::vector<int32_t>> into(states);
  for (const Transition& t : ts) into[t.to].push_back(t.from);
  std::vector<uint8_t> live(accepting);
  std::vector<int32_t> stack;
  for (int32_t s = 0; s < states; s++)
    if (live[s]) stack.push_back(s);
  while (!stack.empty()) {
    const int32_t s = stack.back();
    stack.pop_back();
    for (int32_t from : into[s])
      if (!live[from]) {
        live[from] = 1;
        stack.push_back(from);
      }
  }
  return live;
}

}  // namespace

ByteAutomaton ByteAutomaton::from_json(const Json& cmd) {
  ByteAutomaton a;
  a.states_ = static_cast<int32_t>(int_of(cmd, "states", 1, AutomatonLimits::kMaxStates));
  a.start_ = static_cast<int32_t>(int_of(cmd, "start", 0, a.states_ - 1));
  a.accepting_.assign(a.states_, 0);
  for (const Json& s : array_of(cmd, "accepting")) {
    if (!s.is_int() || s.as_int() < 0 || s.as_int() >= a.states_) refuse("accepting names a state outside [0, states)");
    a.accepting_[s.as_int()] = 1;
  }
  const std::vector<Transition> ts = transitions_of(cmd, a.states_);
  a.classes_ = make_classes(ts, a.class_of_);
  if (static_cast<int64_t>(a.states_) * a.classes_ > AutomatonLimits::kMaxTableEntries)
    refuse("states x byte classes = " + std::to_string(static_cast<int64_t>(a.states_) * a.classes_) + " exceeds " +
           std::to_string(AutomatonLimits::kMaxTableEntries));
  const std::vector<uint8_t> live = live_states(a.states_, ts, a.accepting_);
  if (!live[a.start_]) refuse("no accepting state is reachable from the start state");
  a.next_.assign(static_cast<size_t>(a.states_) * a.classes_, -1);
  std::vector<int32_t> seen(a.next_.size(), -1);  // the target each (state, class) already has
  std::array<int, 256> first_byte{};              // of each class
  for (int b = 255; b >= 0; b--) first_byte[a.class_of_[b]] = b;
  for (const Transition& t : ts) {
    for (int c = a.class_of_[t.lo]; c <= a.class_of_[t.hi]; c++) {  // a range covers whole classes
      const size_t cell = static_cast<size_t>(t.from) * a.classes_ + c;
      if (seen[cell] >= 0 && seen[cell] != t.to)
        refuse("state " + std::to_string(t.from) + " has two transitions on byte " + std::to_string(first_byte[c]) +
               " (not deterministic)");
      seen[cell] = t.to;
      if (live[t.to]) a.next_[cell] = t.to;
    }
  }
  return a;
}

int32_t ByteAutomaton::walk(int32_t state, const uint8_t* bytes, size_t n) const {
  for (size_t i = 0; i < n && state >= 0; i++) state = step(state, bytes[i]);
  return state;
}

}  // namespace tidepool
