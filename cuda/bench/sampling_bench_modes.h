// The sampling benchmark's modes and timers (see sampling_bench.cpp). A mode is a parameter set and,
// for the penalty mode, a sequence history (a 512-token prompt and 128 output tokens). Each call samples
// one row through the engine's Sampler exactly as the step loop does; rows whose stage 1 edits them are
// restored id by id between calls, so the timing holds sampling only.
#pragma once

#include <emmintrin.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <ctime>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "sampling/fast_exp.h"
#include "sampling/sampler.h"

namespace tidepool::bench {

struct Mode {
  std::string name;
  const char* vector_path = nullptr;  // the normaliser's vector path for this mode; null = the best
  SamplingParams params;
  std::vector<int32_t> history;  // ids whose logits stage 1 edits (prompt + output + bias), restored per call
  TokenCounts counts;
};

// Wall time per call, and the calling thread's CPU time: on a shared machine the wall time also counts
// the moments another process held the core; the CPU time does not.
struct Timing {
  double median_us = 0, mean_us = 0, p90_us = 0;
  double cpu_median_us = 0, cpu_mean_us = 0;
  int64_t calls = 0, exact_normalisers = 0, regrowths = 0;
};

inline double now_us() {
  return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline double cpu_now_us() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

inline double median_of(std::vector<double>& v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

inline Timing summarise(std::vector<double> us, std::vector<double> cpu = {}) {
  Timing t;
  t.calls = static_cast<int64_t>(us.size());
  t.mean_us = std::accumulate(us.begin(), us.end(), 0.0) / us.size();
  t.median_us = median_of(us);
  t.p90_us = us[us.size() * 9 / 10];
  if (!cpu.empty()) {
    t.cpu_mean_us = std::accumulate(cpu.begin(), cpu.end(), 0.0) / cpu.size();
    t.cpu_median_us = median_of(cpu);
  }
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
  for (int i = 0; i < 20; i++)
    full.params.logit_bias.push_back({static_cast<int32_t>(rng() % vocab), (i % 2 ? 5.0f : -5.0f)});
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
  // The same draw on the narrower vector paths, for CPUs without AVX-512 (or AVX2).
  for (const char* path : {"avx2", "sse2"}) {
    if (!use_vector_path(path)) continue;
    Mode m = modes[1];
    m.name += std::string(", ") + path + " path";
    m.vector_path = path;
    modes.push_back(std::move(m));
  }
  use_vector_path("best");
  return modes;
}

// A timed workload: call(i) does one unit (a sampled token, a read of the row); run_interleaved times it.
class Workload {
 public:
  virtual ~Workload() = default;
  virtual void call(int i) = 0;
  virtual void after(int i) {}  // untimed, after each call
  virtual Timing timing() { return summarise(us, cpu); }
  std::vector<double> us, cpu;
};

// Every workload in turn, `block` calls at a time, so load from other processes on a shared machine
// falls on all of them alike; the first `warm` calls of each (buffers sizing, caches filling) are not kept.
inline void run_interleaved(const std::vector<Workload*>& work, int calls, int warm, int block) {
  for (int done = -warm; done < calls; done += block)
    for (Workload* w : work)
      for (int k = 0; k < block; k++) {
        const int i = done + k + warm;
        const double c0 = cpu_now_us(), t0 = now_us();
        w->call(i);
        const double dt = now_us() - t0, dc = cpu_now_us() - c0;
        w->after(i);
        if (done + k >= 0) {
          w->us.push_back(dt);
          w->cpu.push_back(dc);
        }
      }
}

// One mode's draws over the rows in turn. `in_cache`: each row is first copied (untimed) into one buffer,
// so it is in cache when sampled, as a batch of one's logits are on the CPU backend; otherwise rows are
// sampled where they lie, and come from memory.
class ModeWorkload : public Workload {
 public:
  ModeWorkload(const Mode& mode, std::vector<std::vector<float>>& rows, bool in_cache = false)
      : mode_(mode),
        rows_(rows),
        pristine_(mode.history.empty() || in_cache ? std::vector<std::vector<float>>{} : rows),
        in_cache_(in_cache),
        rng_(1),
        request_{&mode_.params, &rng_, &mode_.counts, nullptr, nullptr} {
    if (in_cache_) hot_ = rows_[0];
  }
  void call(int i) override {
    std::vector<float>& row = in_cache_ ? hot_ : rows_[i % rows_.size()];
    if (mode_.vector_path) use_vector_path(mode_.vector_path);
    sampler_.sample(request_, row.data(), static_cast<int32_t>(row.size()), out_);
    if (mode_.vector_path) use_vector_path("best");
  }
  void after(int i) override {
    if (in_cache_) {
      hot_ = rows_[(i + 1) % rows_.size()];
      return;
    }
    for (int32_t id : mode_.history) rows_[i % rows_.size()][id] = pristine_[i % rows_.size()][id];
  }
  Timing timing() override {
    Timing t = summarise(us, cpu);
    t.exact_normalisers = sampler_.exact_normalisers();
    t.regrowths = sampler_.regrowths();
    return t;
  }
  const Mode& mode() const { return mode_; }

 private:
  const Mode& mode_;
  std::vector<std::vector<float>>& rows_;
  std::vector<std::vector<float>> pristine_;
  bool in_cache_;
  std::vector<float> hot_;  // (vocab) the row in cache, when in_cache_
  Rng rng_;
  SampleRequest request_;
  Sampler sampler_;
  SampledToken out_;
};

// One vectorised read of the row (its max): the least any sampler must do.
class FloorWorkload : public Workload {
 public:
  explicit FloorWorkload(const std::vector<std::vector<float>>& rows) : rows_(rows) {}
  void call(int i) override {
    const std::vector<float>& row = rows_[i % rows_.size()];
    __m128 m0 = _mm_set1_ps(row[0]), m1 = m0;
    for (size_t j = 0; j + 8 <= row.size(); j += 8) {
      m0 = _mm_max_ps(m0, _mm_loadu_ps(&row[j]));
      m1 = _mm_max_ps(m1, _mm_loadu_ps(&row[j + 4]));
    }
    alignas(16) float lanes[4];
    _mm_store_ps(lanes, _mm_max_ps(m0, m1));
    sink_ = std::max(std::max(lanes[0], lanes[1]), std::max(lanes[2], lanes[3]));
  }

 private:
  const std::vector<std::vector<float>>& rows_;
  volatile float sink_ = 0;
};

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
