// Random logit rows for the sampler tests: Gaussian bulks of random spread, peaked heads like a language
// model's, quantised rows full of ties, and rows with masked (-inf) entries.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

namespace tidepool::testing {

enum class RowKind { Gaussian, Peaked, Ties, Flat };

inline std::vector<float> random_row(std::mt19937_64& rng, int32_t vocab, RowKind kind) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> row(vocab);
  const float spread = 0.5f + 4.5f * unit(rng);
  for (float& v : row) v = spread * normal(rng);
  if (kind == RowKind::Peaked)
    for (int i = 0; i < 1 + static_cast<int>(rng() % 20); i++) row[rng() % vocab] += 8.0f + 12.0f * unit(rng);
  if (kind == RowKind::Ties)
    for (float& v : row) v = std::round(v * 2.0f) / 2.0f;
  if (kind == RowKind::Flat)
    for (float& v : row) v = 0.01f * v;
  return row;
}

inline RowKind kind_of(uint64_t i) { return static_cast<RowKind>(i % 4); }

}  // namespace tidepool::testing
