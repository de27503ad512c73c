#include "sampler.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

namespace tidepool {

uint64_t Rng::next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

double Rng::uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }

int32_t argmax(const float* logits, int n) {
  int32_t best = 0;
  for (int i = 1; i < n; i++)
    if (logits[i] > logits[best]) best = i;
  return best;
}

int32_t sample_token(const float* logits, int n, float temperature, float top_p, Rng& rng) {
  if (temperature <= 0) return argmax(logits, n);
  const float max_logit = logits[argmax(logits, n)];
  std::vector<double> probs(n);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += probs[i] = std::exp((static_cast<double>(logits[i]) - max_logit) / temperature);
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  // Descending probability, index order on ties, so the cut is deterministic.
  std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return probs[a] > probs[b]; });
  const double p = (top_p > 0 && top_p < 1) ? top_p : 1.0;
  double mass = 0;
  size_t keep = 0;
  while (keep < order.size()) {
    mass += probs[order[keep++]] / sum;
    if (mass >= p) break;
  }
  double r = rng.uniform() * mass * sum;
  for (size_t i = 0; i < keep; i++) {
    r -= probs[order[i]];
    if (r < 0) return order[i];
  }
  return order[keep - 1];
}

}  // namespace tidepool
