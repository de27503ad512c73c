// Which tokens a sequence has seen, for the penalties: each distinct id once, with whether the prompt
// holds it (repetition penalty) and how often the output does (frequency and presence penalties).
// Sized once for the sequence's whole life (min(vocab, prompt + max_tokens) distinct ids), so adding a
// token never allocates; stage 1 walks the dense entry list, not the vocabulary.
#pragma once

#include <cstdint>
#include <vector>

namespace tidepool {

class TokenCounts {
 public:
  struct Entry {
    int32_t id;
    int32_t output_count;
    bool in_prompt;
  };

  bool ready() const { return !slots_.empty(); }
  // Allocates room for `max_distinct` ids and forgets everything.
  void reset(int32_t max_distinct);
  void add_prompt(int32_t id) { entry(id).in_prompt = true; }
  void add_output(int32_t id) { entry(id).output_count++; }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  Entry& entry(int32_t id);

  std::vector<Entry> entries_;  // (distinct ids seen), in first-seen order
  std::vector<int32_t> slots_;  // open addressing, power of two >= 2 * capacity: entry index + 1, 0 = empty
  uint32_t mask_ = 0;
};

}  // namespace tidepool
