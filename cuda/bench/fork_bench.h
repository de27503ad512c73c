// The n > 1 row of the CPU benchmark: n sequences on one 512-token prompt, forked from one prefill
// (add's seqs) against n separate adds prefilled together in one batch, on the CPU backend (2 threads)
// with a small random Qwen2-shaped model (hidden 256, 4 layers, vocab 8192, bf16). Reported: prompt
// tokens computed, time to every sequence's first token and to the end of 8 tokens each; the median of
// 3 runs each. The saving is the prefill work, so it grows with the prompt and with n.
#pragma once

#include <string>
#include <vector>

#include "bench_synth.h"
#include "engine_core.h"
#include "json.h"
#include "sampling_bench_modes.h"

namespace tidepool::bench {

struct ForkRun {
  double first_tokens_ms = 0, total_ms = 0;
  int64_t prefill_tokens = 0;
};

inline ForkRun fork_run(const std::string& dir, int n, int prompt_len, bool fork) {
  EngineOptions o;
  o.kv_page_bytes = 64 << 10;
  o.kv_budget_bytes = size_t(512) * o.kv_page_bytes;
  o.memory_budget_bytes = size_t(512) << 20;
  o.max_batch_tokens = n * prompt_len;
  BackendOptions b;
  b.threads = 2;
  EngineCore engine(make_cpu_backend(b), o);
  engine.install_model("m", load_model_dir(dir));
  SequenceSpec s;
  s.model = "m";
  for (int i = 0; i < prompt_len; i++) s.prompt.push_back((i * 7919 + 11) % 8192);
  s.max_tokens = 8;
  s.sampling.temperature = 0.8f;
  for (int i = 0; i < n; i++) {
    if (fork && i > 0) {
      s.fork_ids.push_back(i);
      continue;
    }
    s.id = i;
    s.sampling.seed = i;
    if (!fork) engine.add(s);
  }
  if (fork) {
    s.id = 0;
    engine.add(s);
  }
  ForkRun r;
  const double t0 = now_us();
  engine.step("m");
  r.first_tokens_ms = (now_us() - t0) / 1000;
  while (engine.has_sequences("m")) engine.step("m");
  r.total_ms = (now_us() - t0) / 1000;
  r.prefill_tokens = static_cast<int64_t>(n) * prompt_len - engine.prefill_tokens_saved();
  return r;
}

inline Json fork_bench(const std::string& dir, int n, int prompt_len) {
  const Shape shape{"fork-bench", 256, 1024, 4, 4, 2, 8192, true, true, 1000000.0};
  if (!synthesize(dir, shape, 3)) return Json();
  Json out = Json::array();
  for (bool fork : {true, false}) {
    std::vector<ForkRun> runs;
    for (int k = 0; k < 3; k++) runs.push_back(fork_run(dir, n, prompt_len, fork));
    std::sort(runs.begin(), runs.end(),
              [](const ForkRun& a, const ForkRun& b) { return a.first_tokens_ms < b.first_tokens_ms; });
    Json row = Json::object();
    row.set("mode", fork ? "forked from one prefill (seqs)" : "separate prefills, one batch");
    row.set("n", n);
    row.set("prompt_tokens", prompt_len);
    row.set("prefill_tokens_computed", runs[1].prefill_tokens);
    row.set("first_tokens_ms", runs[1].first_tokens_ms);
    row.set("total_ms", runs[1].total_ms);
    out.push(std::move(row));
    std::fprintf(stderr, "  n=%d, prompt %d, %-32s prefill %5lld tokens, first tokens %.0f ms, all 8 tokens %.0f ms\n",
                 n, prompt_len, fork ? "forked from one prefill:" : "separate prefills, one batch:",
                 static_cast<long long>(runs[1].prefill_tokens), runs[1].first_tokens_ms, runs[1].total_ms);
  }
  return out;
}

}  // namespace tidepool::bench
