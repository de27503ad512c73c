// The cases both tests of the device-sampling path run (test_prepared_sampling without a GPU,
// cuda_sampling_test on one): a batch of sequences covering every sampling parameter, a grammar over a
// hand-written 320-token vocabulary, a top_k past what the device answers and a flat distribution; and the
// comparison of two engines' outcomes (same tokens and ends, logprobs within 2e-6).
#pragma once

#include <cmath>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine_harness.h"
#include "grammar_fixtures.h"

namespace tidepool::testing {

inline bool close_logprob(float a, float b) { return std::fabs(a - b) <= 2e-6f + 2e-7f * std::fabs(b); }

inline const std::vector<Quad> kJson = {{0, '{', '{', 1}, {1, '"', '"', 2}, {2, 'n', 'n', 3}, {3, '"', '"', 4},
                                        {4, ':', ':', 5}, {5, '0', '9', 6}, {6, '0', '9', 6}, {6, '}', '}', 7}};

inline void register_json(EngineCore& engine) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; b++) tokens.push_back(std::string(1, static_cast<char>(b)));
  for (const char* t : {"{\"n\":", "12", "345", "0}", "}", "\"n", "7}"}) tokens.push_back(t);
  while (tokens.size() < 320) tokens.push_back("");
  std::set<int> special;
  for (int id = 300; id < 320; id++) special.insert(id);
  engine.grammars().register_vocab(vocab_json("v", tokens, special));
  engine.grammars().register_grammar(automaton_json("json", 8, 0, {7}, kJson));
}

inline std::vector<SequenceSpec> batch_specs() {
  std::vector<SequenceSpec> specs;
  auto add = [&](float temperature, auto edit) {
    SequenceSpec s = seq_spec(static_cast<int64_t>(specs.size()) + 1, "m", {5, 17, 99, 3, 250, 17, 42}, 16, temperature,
                              500 + specs.size());
    s.sampling.top_p = 1;
    edit(s);
    specs.push_back(s);
  };
  add(0.0f, [](SequenceSpec&) {});
  add(0.9f, [](SequenceSpec& s) { s.sampling.top_p = 0.9f; });
  add(0.8f, [](SequenceSpec& s) {
    s.sampling.top_k = 40;
    s.sampling.top_p = 0.9f;
    s.sampling.min_p = 0.02f;
    s.sampling.repetition_penalty = 1.4f;
    s.sampling.frequency_penalty = 0.5f;
    s.sampling.presence_penalty = 0.3f;
    s.sampling.logit_bias = {{7, 4.0f}, {99, -100.0f}};
    s.sampling.logprobs = true;
    s.sampling.top_logprobs = 5;
  });
  add(0.0f, [](SequenceSpec& s) {
    s.sampling.logprobs = true;
    s.sampling.top_logprobs = 20;
  });
  add(1.0f, [](SequenceSpec& s) {
    s.sampling.min_tokens = 6;
    s.eos_ids = {7};
    s.stop_ids = {9};
  });
  add(1.0f, [](SequenceSpec& s) { s.sampling.top_k = 300; });  // past what the device answers
  add(4.0f, [](SequenceSpec&) {});                             // flat: the draw goes past the first candidates
  add(1.5f, [](SequenceSpec& s) {
    s.grammar = "json";
    s.vocab = "v";
    s.eos_ids = {300};
  });
  return specs;
}

struct Outcome {
  std::map<int64_t, std::vector<TokenEvent>> events;
  std::map<int64_t, std::string> reasons;
};

inline Outcome run_batch(EngineCore& engine, const std::vector<SequenceSpec>& specs) {
  for (const SequenceSpec& s : specs) engine.add(s);
  Outcome out;
  while (engine.has_sequences("m")) {
    StepResult r = engine.step("m");
    for (TokenEvent& t : r.tokens) out.events[t.seq].push_back(std::move(t));
    for (const DoneEvent& d : r.done) out.reasons[d.seq] = d.reason;
  }
  return out;
}

inline bool same_outcome(const Outcome& host, const Outcome& device) {
  bool ok = host.reasons == device.reasons && host.events.size() == device.events.size();
  for (const auto& [seq, events] : host.events) {
    const std::vector<TokenEvent>& other = device.events.at(seq);
    ok = ok && events.size() == other.size();
    for (size_t i = 0; ok && i < events.size(); i++) {
      const TokenEvent &a = events[i], &b = other[i];
      ok = a.token == b.token && a.has_logprob == b.has_logprob &&
           (!a.has_logprob || close_logprob(a.logprob, b.logprob)) && a.top_logprobs.size() == b.top_logprobs.size();
      for (size_t k = 0; ok && k < a.top_logprobs.size(); k++)
        ok = a.top_logprobs[k].first == b.top_logprobs[k].first &&
             close_logprob(a.top_logprobs[k].second, b.top_logprobs[k].second);
    }
  }
  return ok;
}

}  // namespace tidepool::testing
