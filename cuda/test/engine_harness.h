// Drives EngineCore directly for the scheduling tests: build an engine, add sequences, step models and
// collect each sequence's tokens.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine_core.h"
#include "test_support.h"

namespace tidepool::testing {

// `emulate_cuda`: the CPU backend rounds where the CUDA backend stores narrower (backends/precision.h).
inline std::unique_ptr<EngineCore> make_engine(size_t kv_pages, int block_tokens = 16, bool emulate_cuda = false) {
  EngineOptions o;
  o.block_tokens = block_tokens;
  o.kv_page_bytes = 64 << 10;
  o.kv_budget_bytes = kv_pages * o.kv_page_bytes;
  o.memory_budget_bytes = size_t(256) << 20;
  BackendOptions b;
  b.threads = 1;
  b.emulate_cuda_precision = emulate_cuda;
  return std::make_unique<EngineCore>(make_cpu_backend(b), o);
}

inline SequenceSpec seq_spec(int64_t id, const std::string& model, std::vector<int32_t> prompt, int max_tokens,
                             float temperature = 0, uint64_t seed = 0) {
  SequenceSpec s;
  s.id = id;
  s.model = model;
  s.prompt = std::move(prompt);
  s.max_tokens = max_tokens;
  s.sampling.temperature = temperature;
  s.sampling.top_p = 0.9f;
  s.sampling.seed = seed;
  return s;
}

using TokenLog = std::map<int64_t, std::vector<int32_t>>;

// One step; appends tokens to `log`; returns how many sequences finished.
inline int step_into(EngineCore& engine, const std::string& model, TokenLog& log) {
  StepResult r = engine.step(model);
  for (const TokenEvent& t : r.tokens) log[t.seq].push_back(t.token);
  for (const DoneEvent& d : r.done) CHECK(d.reason == "length" || d.reason == "stop");
  return static_cast<int>(r.done.size());
}

inline void run_until_idle(EngineCore& engine, const std::string& model, TokenLog& log) {
  while (engine.has_sequences(model)) step_into(engine, model, log);
}

}  // namespace tidepool::testing
