// Logit rows shaped like a language model's next-token rows, for the sampling benchmark (no real model
// can be downloaded here). Each row: a Gaussian bulk N(0, 2^2) over the whole vocabulary, plus a Zipf
// head of 2,000 ids at random positions whose logit falls with log(rank) (Zipf's law for word
// frequencies), 17-23 above the bulk's mean at the top, with a steepness drawn per row so that some rows
// are confident (top token > 90%) and others spread (top token 10-40%), as a real model alternates
// between forced and open continuations. Over 64 rows at temperature 1: mean top-1 probability 0.63,
// top-64 mass 0.84, entropy 2.5 nats. The benchmark prints these beside the timings.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace tidepool::bench {

struct RowStats {
  double top1 = 0, top64 = 0, entropy_nats = 0;
};

inline std::vector<float> lm_like_row(std::mt19937_64& rng, int32_t vocab) {
  std::normal_distribution<float> bulk(0.0f, 2.0f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> row(vocab);
  for (float& v : row) v = bulk(rng);
  const float steep = 0.8f + 3.2f * unit(rng) * unit(rng);  // mostly gentle heads, sometimes forced
  const float top = 17.0f + 6.0f * unit(rng);
  for (int rank = 1; rank <= 2000; rank++) {
    const int32_t id = static_cast<int32_t>(rng() % vocab);
    row[id] = std::max(row[id], top - steep * std::log(static_cast<float>(rank)) - (rank == 1 ? 0.0f : steep));
  }
  return row;
}

inline RowStats stats_of(const std::vector<float>& row) {
  std::vector<double> p(row.begin(), row.end());
  const double max = *std::max_element(p.begin(), p.end());
  double z = 0;
  for (double& v : p) z += v = std::exp(v - max);
  RowStats s;
  for (double& v : p) {
    v /= z;
    if (v > 0) s.entropy_nats -= v * std::log(v);
  }
  std::partial_sort(p.begin(), p.begin() + 64, p.end(), std::greater<double>());
  s.top1 = p[0];
  for (int i = 0; i < 64; i++) s.top64 += p[i];
  return s;
}

}  // namespace tidepool::bench
