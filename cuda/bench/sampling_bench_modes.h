// The sampling benchmark's modes and timers (see sampling_bench.cpp). A mode is a parameter set and,
// for the penalty mode, a sequence history (a 512-token prompt and 128 output tokens). Each call samples
// one row through the engine's Sampler exactly as the step loop does; rows whose stage 1 edits them are
// restored id by id between calls, so the timing holds sampling only.
#pragma once

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "sampling/sampler.h"

namespace tidepool::bench {

struct Mode {
  std::string name;
  SamplingParams params;
  std::vector<int32_t> history;  // ids whose logits stage 1 edits (prompt + output + bias), restored per call
  TokenCounts counts;
};

struct Timing {
  double median_us = 0, mean_us = 0, p90_us = 0;
  int64_t calls = 0, exact_normalisers = 0, regrowths = 0;
};

inline double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline Timing summarise(std::vector<double> us) {
  Timing t;
  std::sort(us.begin(), us.end());
  t.calls = static_cast<int64_t>(us.size());
  t.median_us = us[us.size() / 2];
  t.p90_us = us[us.size() * 9 / 10];
  t.mean_us = std::accumulate(us.begin(), us.end(), 0.0) / us.size();
  return t;
}

inline std::vector<Mode> sampling_modes(int32_t vocab, std::mt19937_64& rng) {
  std::vector<Mode> modes(6);
  modes[0].name = "greedy";
  modes[1].name = "temperature 0.8";
  modes[1].params.temperature = 0.8f;
  modes[2].name = "top-p 0.95, temperature 0.8";
  modes[2].params.temperature = 0.8f;
  modes[2].params.top_p = 0.95f;
  Mode& full = modes[3];
  full.name = "top-k 50 + top-p 0.95 + penalties + logit_bias";
  full.params.temperature = 0.8f;
  full.params.top_k = 50;
  full.params.top_p = 0.95f;
  full.params.repetition_penalty = 1.1f;
  full.params.presence_penalty = 0.4f;
  full.params.frequency_penalty = 0.3f;
  for (int i = 0; i < 20; i++) full.params.logit_bias.push_back({static_cast<int32_t>(rng() % vocab), (i % 2 ? 5.0f : -5.0f)});
  std::sort(full.params.logit_bias.begin(), full.params.logit_bias.end());
  full.counts.reset(640);
  for (int i = 0; i < 512; i++) full.counts.add_prompt(static_cast<int32_t>(rng() % vocab));
  for (int i = 0; i < 128; i++) full.counts.add_output(static_cast<int32_t>(rng() % vocab));
  for (const auto& e : full.counts.entries()) full.history.push_back(e.id);
  for (const auto& [id, bias] : full.params.logit_bias) full.history.push_back(id);
  modes[4].name = "min-p 0.05, temperature 1";
  modes[4].params.temperature = 1.0f;
  modes[4].params.min_p = 0.05f;
  modes[5].name = "logprobs, 20 alternatives, temperature 1";
  modes[5].params.temperature = 1.0f;
  modes[5].params.logprobs = true;
  modes[5].params.top_logprobs = 20;
  return modes;
}

inline Timing time_mode(const Mode& mode, std::vector<std::vector<float>>& rows, int calls) {
  Sampler sampler;
  Rng rng(1);
  SampledToken out;
  const std::vector<std::vector<float>> pristine = mode.history.empty() ? std::vector<std::vector<float>>{} : rows;
  SampleRequest request{&mode.params, &rng, &mode.counts, nullptr, nullptr};
  std::vector<double> us;
  for (int i = 0; i < calls + 50; i++) {
    std::vector<float>& row = rows[i % rows.size()];
    const double t0 = now_us();
    sampler.sample(request, row.data(), static_cast<int32_t>(row.size()), out);
    const double dt = now_us() - t0;
    if (i >= 50) us.push_back(dt);  // the first calls size the buffers
    for (int32_t id : mode.history) row[id] = pristine[i % rows.size()][id];
  }
  Timing t = summarise(us);
  t.exact_normalisers = sampler.exact_normalisers();
  t.regrowths = sampler.regrowths();
  return t;
}

// One vectorisable read of the row (its max): the least any sampler must do.
inline Timing time_floor(const std::vector<std::vector<float>>& rows, int calls) {
  std::vector<double> us;
  volatile float sink = 0;
  for (int i = 0; i < calls; i++) {
    const std::vector<float>& row = rows[i % rows.size()];
    const double t0 = now_us();
    float m0 = row[0], m1 = row[0], m2 = row[0], m3 = row[0];
    size_t j = 0;
    for (; j + 4 <= row.size(); j += 4) {
      m0 = std::max(m0, row[j]);
      m1 = std::max(m1, row[j + 1]);
      m2 = std::max(m2, row[j + 2]);
      m3 = std::max(m3, row[j + 3]);
    }
    sink = std::max(std::max(m0, m1), std::max(m2, m3));
    us.push_back(now_us() - t0);
  }
  (void)sink;
  return summarise(us);
}

// The sampler this one replaced: probabilities for the whole row, then a stable_sort of all of them.
inline Timing time_legacy(const std::vector<std::vector<float>>& rows, int calls) {
  std::vector<double> us;
  Rng rng(1);
  for (int i = 0; i < calls; i++) {
    const std::vector<float>& row = rows[i % rows.size()];
    const int n = static_cast<int>(row.size());
    const double t0 = now_us();
    const float max_logit = *std::max_element(row.begin(), row.end());
    std::vector<double> probs(n);
    double sum = 0;
    for (int k = 0; k < n; k++) sum += probs[k] = std::exp((static_cast<double>(row[k]) - max_logit) / 0.8);
    std::vector<int32_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return probs[a] > probs[b]; });
    double mass = 0, r = rng.uniform();
    size_t keep = 0;
    while (keep < order.size() && (mass += probs[order[keep++]] / sum) < 0.95) {
    }
    r *= mass * sum;
    for (size_t k = 0; k < keep && (r -= probs[order[k]]) >= 0; k++) {
    }
    us.push_back(now_us() - t0);
  }
  return summarise(us);
}

}  // namespace tidepool::bench
