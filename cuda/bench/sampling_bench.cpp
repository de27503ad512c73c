// tidepool-sampling-bench: the host sampler's cost per sequence-token at a real vocabulary size, one row
// per mode (greedy; temperature; top-p; top-k + top-p + penalties + logit_bias; min-p; logprobs with 20
// alternatives; a JSON-schema mask), on language-model-shaped rows (bench_logits.h). Beside them: the
// previous full-sort sampler (the anchor) and one vectorised read of the row (the floor: what any
// sampler must at least do). Always built; needs no GPU.
// Also n > 1 (fork_bench.h): sequences forked from one prefill against separate prefills.
// Usage: tidepool-sampling-bench [--vocab 151936] [--calls 3000] [--forks yes|no] [--dir /tmp/...] [--out result.json]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <thread>

#include "bench_logits.h"
#include "fork_bench.h"
#include "json.h"
#include "sampling/normaliser.h"
#include "sampling/sampler.h"
#include "sampling_bench_grammar.h"
#include "sampling_bench_modes.h"

using namespace tidepool;
using namespace tidepool::bench;

namespace {

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; i++)
    if (argv[i] == "--" + name) return argv[i + 1];
  return fallback;
}

std::string cpu_name() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) return line.substr(line.find(':') + 2);
  return "unknown CPU";
}

// The 1-minute load average when the run ends: on a machine shared with other work, the context for
// every wall-clock figure.
double load_average() {
  std::ifstream in("/proc/loadavg");
  double load = -1;
  in >> load;
  return load;
}

Json stats_json(const std::vector<std::vector<float>>& rows) {
  RowStats sum;
  for (const auto& r : rows) {
    const RowStats s = stats_of(r);
    sum.top1 += s.top1;
    sum.top64 += s.top64;
    sum.entropy_nats += s.entropy_nats;
  }
  const double n = static_cast<double>(rows.size());
  Json j = Json::object();
  j.set("rows", static_cast<int64_t>(rows.size()));
  j.set("shape", "Gaussian bulk N(0, 2^2) + Zipf head of 2000 ids, top 17-23, per-row steepness");
  j.set("note",
        "each call takes the next of these rows (38 MB in all), so a row comes from memory, as in a large batch");
  j.set("mean_top1_probability", sum.top1 / n);
  j.set("mean_top64_mass", sum.top64 / n);
  j.set("mean_entropy_nats", sum.entropy_nats / n);
  return j;
}

Json mode_row(const std::string& name, int32_t vocab, const Timing& t, const Timing& floor, const Timing& legacy) {
  Json row = Json::object();
  row.set("mode", name);
  row.set("vocab", vocab);
  row.set("us_per_token", t.median_us);
  row.set("mean_us", t.mean_us);
  row.set("p90_us", t.p90_us);
  row.set("cpu_us_per_token", t.cpu_median_us);
  row.set("cpu_mean_us", t.cpu_mean_us);
  row.set("calls", t.calls);
  row.set("floor_us", floor.median_us);
  row.set("anchor_previous_sampler_us", legacy.median_us);
  std::fprintf(stderr, "  %-48s %7.1f us/token (mean %.1f, p90 %.1f; cpu %.1f, mean %.1f)", name.c_str(), t.median_us,
               t.mean_us, t.p90_us, t.cpu_median_us, t.cpu_mean_us);
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  const int32_t vocab = std::stoi(arg(argc, argv, "vocab", "151936"));
  const int calls = std::stoi(arg(argc, argv, "calls", "3000"));
  const std::string out_path = arg(argc, argv, "out", "");
  std::mt19937_64 rng(7);
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 64; i++) rows.push_back(lm_like_row(rng, vocab));

  Json result = Json::object();
  result.set("bench", "engine-sampling");
  result.set("device", cpu_name());
  result.set("vector_path", use_vector_path("best"));
  result.set("vocab", vocab);
  result.set("logits", stats_json(rows));
  const std::vector<Mode> modes = sampling_modes(vocab, rng);
  FloorWorkload floor_work(rows);
  std::vector<std::unique_ptr<ModeWorkload>> mode_work;
  std::vector<Workload*> work = {&floor_work};
  for (const Mode& m : modes) {
    mode_work.push_back(std::make_unique<ModeWorkload>(m, rows));
    work.push_back(mode_work.back().get());
  }
  // The same draws with each row in cache, as a batch of one on the CPU backend sees its logits.
  std::vector<Mode> hot_modes = {modes[0], modes[1], modes[2], modes[5]};
  for (Mode& m : hot_modes) m.name += ", row in cache";
  std::vector<std::vector<float>> one_row = {rows[0]};
  FloorWorkload hot_floor(one_row);
  work.push_back(&hot_floor);
  for (const Mode& m : hot_modes) {
    mode_work.push_back(std::make_unique<ModeWorkload>(m, rows, true));
    work.push_back(mode_work.back().get());
  }
  std::unique_ptr<JsonWorkload> json_work;
  if (vocab == kJsonVocab) {
    json_work = std::make_unique<JsonWorkload>(rows);
    work.push_back(json_work.get());
  }
  run_interleaved(work, calls, 100, 25);
  const Timing floor = floor_work.timing(), legacy = time_legacy(rows, 20);
  result.set("floor_row_in_cache_us", hot_floor.timing().median_us);
  std::fprintf(stderr, "vocab %d on %s (%s); floor (one read of the row) %.1f us; previous full-sort sampler %.0f us\n",
               vocab, cpu_name().c_str(), use_vector_path("best"), floor.median_us, legacy.median_us);
  Json rows_json = Json::array();
  for (auto& w : mode_work) {
    const Timing t = w->timing();
    Json row = mode_row(w->mode().name, vocab, t, floor, legacy);
    row.set("exact_normalisers", t.exact_normalisers);
    row.set("regrowths", t.regrowths);
    std::fprintf(stderr, "; %lld regrowths, %lld exact\n", static_cast<long long>(t.regrowths),
                 static_cast<long long>(t.exact_normalisers));
    rows_json.push(std::move(row));
  }
  if (json_work) {
    const GrammarTiming g = json_work->grammar_timing();
    Json row = mode_row("JSON-schema mask (object of 5 typed fields), temperature 0.7", vocab, g.warm, floor, legacy);
    row.set("automaton_states", g.states);
    row.set("vocab_trie_nodes", g.trie_nodes);
    row.set("vocab_register_ms", g.vocab_register_ms);
    row.set("cold_mask_build_ms", g.cold_mask_ms);
    row.set("tokens_under_dense_masks", g.dense_fraction);
    std::fprintf(stderr, "; %d states, cold mask build %.2f ms, %.0f%% of tokens under dense masks\n", g.states,
                 g.cold_mask_ms, 100 * g.dense_fraction);
    rows_json.push(std::move(row));
  }
  result.set("sampling", std::move(rows_json));
  result.set("load_average_1min", load_average());
  result.set("cpus_online", static_cast<int64_t>(std::thread::hardware_concurrency()));
  const std::string dir = arg(argc, argv, "dir", "/tmp/tidepool-fork-bench");
  if (arg(argc, argv, "forks", "yes") == "yes") result.set("n", fork_bench(dir, 4, 512));
  const std::string text = result.dump();
  std::printf("%s\n", text.c_str());
  if (!out_path.empty()) std::ofstream(out_path) << text << "\n";
  return 0;
}
