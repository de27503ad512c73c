// Sampling through the engine's step loop on a small random model: each step's raw logits (logits:
// true) replayed through the plain reference (sampling_reference.h) with the sequence's own history and
// seed give the engine's token and logprobs, for every parameter at once; eos ids end a sequence unless
// ignore_eos; min_tokens masks stop and eos ids until it is reached; stop ids end it whatever ignore_eos.
#include <cmath>
#include <iostream>

#include "engine_harness.h"
#include "sampling_reference.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

struct Run {
  std::vector<TokenEvent> events;
  std::string reason;
};

Run run(EngineCore& engine, SequenceSpec spec) {
  spec.want_logits = true;
  engine.add(spec);
  Run out;
  while (engine.has_sequences("m")) {
    StepResult r = engine.step("m");
    for (TokenEvent& t : r.tokens) out.events.push_back(std::move(t));
    for (const DoneEvent& d : r.done) out.reason = d.reason;
  }
  return out;
}

// Every step of `r` against the reference: same token, logprobs within 1e-6 (+ f32 rounding) of a double
// log-softmax.
void replay(const SequenceSpec& spec, const Run& r) {
  Rng rng(spec.sampling.seed);
  ReferenceHistory h;
  h.prompt = spec.prompt;
  for (const TokenEvent& t : r.events) {
    h.masked.clear();
    if (static_cast<int>(h.output.size()) < spec.sampling.min_tokens) {
      h.masked = spec.stop_ids;
      if (!spec.sampling.ignore_eos) h.masked.insert(h.masked.end(), spec.eos_ids.begin(), spec.eos_ids.end());
    }
    const std::vector<float> processed = reference_processed(t.logits, spec.sampling, h);
    const double u = spec.sampling.temperature > 0 ? rng.uniform() : 0;
    CHECK(reference_draw(processed, spec.sampling, u) == t.token);
    if (spec.sampling.logprobs) {
      const std::vector<double> lp = reference_logprobs(t.logits);
      const std::vector<int32_t> order = reference_order(t.logits);
      auto close = [](float got, double want) { return std::fabs(got - want) < 1e-6 + 1.2e-7 * std::fabs(want); };
      CHECK(t.has_logprob && close(t.logprob, lp[t.token]));
      CHECK(static_cast<int>(t.top_logprobs.size()) == spec.sampling.top_logprobs);
      for (size_t k = 0; k < t.top_logprobs.size(); k++)
        CHECK(t.top_logprobs[k].first == order[k] && close(t.top_logprobs[k].second, lp[order[k]]));
    } else {
      CHECK(!t.has_logprob);
    }
    h.output.push_back(t.token);
  }
}

SequenceSpec spec_for(int64_t id, int max_tokens) {
  SequenceSpec s = seq_spec(id, "m", {5, 17, 99, 3, 250, 17, 42}, max_tokens, 0.9f, 1000 + id);
  s.sampling.top_p = 1;
  return s;
}

void check_parameters(EngineCore& engine) {
  SequenceSpec s = spec_for(1, 24);
  s.sampling.top_k = 40;
  s.sampling.top_p = 0.9f;
  s.sampling.min_p = 0.02f;
  s.sampling.repetition_penalty = 1.4f;
  s.sampling.frequency_penalty = 0.5f;
  s.sampling.presence_penalty = 0.3f;
  s.sampling.logit_bias = {{7, 4.0f}, {99, -100.0f}};
  s.sampling.logprobs = true;
  s.sampling.top_logprobs = 5;
  Run r = run(engine, s);
  CHECK(r.events.size() == 24 && r.reason == "length");
  replay(s, r);
  SequenceSpec greedy = spec_for(2, 12);
  greedy.sampling.temperature = 0;
  greedy.sampling.logprobs = true;
  greedy.sampling.top_logprobs = 20;
  replay(greedy, run(engine, greedy));
  SequenceSpec plain = spec_for(3, 12);
  replay(plain, run(engine, plain));
  std::cout << "parameters: every step of three sequences equals the reference replayed on its raw logits\n";
}

void check_ends(EngineCore& engine) {
  SequenceSpec probe = spec_for(10, 8);
  probe.sampling.temperature = 0;
  const Run free_run = run(engine, probe);
  const int32_t fourth = free_run.events[3].token;
  int first_fourth = 0;
  while (free_run.events[first_fourth].token != fourth) first_fourth++;

  SequenceSpec eos = probe;
  eos.id = 11;
  eos.eos_ids = {fourth};
  Run r = run(engine, eos);
  CHECK(r.reason == "stop" && static_cast<int>(r.events.size()) == first_fourth + 1 && r.events.back().token == fourth);

  SequenceSpec ignored = eos;
  ignored.id = 12;
  ignored.sampling.ignore_eos = true;
  r = run(engine, ignored);
  CHECK(r.reason == "length" && r.events.size() == 8);
  for (size_t i = 0; i < 8; i++) CHECK(r.events[i].token == free_run.events[i].token);

  SequenceSpec late = eos;
  late.id = 13;
  late.sampling.min_tokens = 6;
  r = run(engine, late);
  for (int i = 0; i < 6 && i < static_cast<int>(r.events.size()); i++) CHECK(r.events[i].token != fourth);
  replay(late, r);

  SequenceSpec stop = probe;
  stop.id = 14;
  stop.stop_ids = {fourth};
  stop.sampling.ignore_eos = true;
  r = run(engine, stop);
  CHECK(r.reason == "stop" && r.events.back().token == fourth);
  std::cout << "ends: eos stops (not under ignore_eos), min_tokens holds it back, stop ids always stop\n";
}

}  // namespace

int main() {
  const std::string dir = make_temp_dir("sampling");
  write_synthetic_model(dir, SynthSpec{});
  auto engine = make_engine(64);
  engine->install_model("m", load_model_dir(dir));
  check_parameters(*engine);
  check_ends(*engine);
  std::cout << "PASS\n";
  return 0;
}
