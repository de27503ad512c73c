// A deterministic automaton over bytes, registered by the protocol's `grammar` command: the control
// plane compiles a JSON schema (or json_object) into one, and the engine walks token byte strings through
// it to build each step's token mask (token_masks.h). Format and limits: docs/engine-protocol.md.
//
// Stored as a dense table over byte classes (bytes no range boundary separates share a class), so a step
// is two lookups. States from which no accepting state can be reached are dead: the table sends every
// transition into them to -1, so a token can never walk into a corner the automaton cannot leave.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "json.h"

namespace tidepool {

// Sized for compiled JSON schemas (thousands of states, a few ranges each) with room to spare, and so that
// the command's JSON, parsed, stays within a few hundred MiB.
struct AutomatonLimits {
  static constexpr int64_t kMaxStates = 1 << 18;
  static constexpr int64_t kMaxTransitions = 1 << 18;
  static constexpr int64_t kMaxTableEntries = int64_t{1} << 24;  // states x byte classes (64 MiB)
};

class ByteAutomaton {
 public:
  // Reads {"states", "start", "accepting", "transitions"} (see the protocol doc); throws
  // EngineError("bad_request") naming the first problem.
  static ByteAutomaton from_json(const Json& cmd);

  int32_t states() const { return states_; }
  int32_t start() const { return start_; }
  int32_t classes() const { return classes_; }
  bool accepting(int32_t state) const { return accepting_[state]; }
  // The state after `byte`, or -1 when the byte is not allowed or leads where nothing is accepted.
  int32_t step(int32_t state, uint8_t byte) const {
    return next_[static_cast<size_t>(state) * classes_ + class_of_[byte]];
  }
  // The state after every byte of [bytes, bytes + n), or -1.
  int32_t walk(int32_t state, const uint8_t* bytes, size_t n) const;
  size_t bytes() const { return next_.size() * sizeof(int32_t) + accepting_.size(); }

 private:
  int32_t states_ = 0, start_ = 0, classes_ = 0;
  std::array<uint8_t, 256> class_of_{};
  std::vector<int32_t> next_;       // (states, classes), -1 = no way to acceptance
  std::vector<uint8_t> accepting_;  // (states)
};

}  // namespace tidepool
