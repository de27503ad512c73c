// A plain, slow, obviously-correct sampler for the tests: dense loops over the vocabulary, a full sort,
// explicit softmax in double. Written from the rules in docs/engine-protocol.md (Sampling), not from the
// engine's code, so a shortcut in the engine (partial selection, fast normaliser, candidate growth)
// that changes a token or a logprob shows up as a mismatch.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <utility>
#include <vector>

#include "sampling/sampling_params.h"

namespace tidepool::testing {

struct ReferenceHistory {
  std::vector<int32_t> prompt;
  std::vector<int32_t> output;
  std::vector<int32_t> masked;                 // ids masked this step (min_tokens)
  const std::vector<bool>* allowed = nullptr;  // grammar mask, null = all
};

// Stage 1, one id at a time, in the documented order and in float.
inline std::vector<float> reference_processed(const std::vector<float>& raw, const SamplingParams& p,
                                              const ReferenceHistory& h) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> out(raw.size());
  for (size_t id = 0; id < raw.size(); id++) {
    float v = raw[id];
    for (const auto& [bias_id, bias] : p.logit_bias)
      if (bias_id == static_cast<int32_t>(id)) v += bias;
    const int32_t in_output =
        static_cast<int32_t>(std::count(h.output.begin(), h.output.end(), static_cast<int32_t>(id)));
    const bool in_prompt = std::find(h.prompt.begin(), h.prompt.end(), static_cast<int32_t>(id)) != h.prompt.end();
    if ((in_prompt || in_output > 0) && p.repetition_penalty != 1)
      v = v > 0 ? v / p.repetition_penalty : v * p.repetition_penalty;
    if (in_output > 0) {
      v -= p.frequency_penalty * static_cast<float>(in_output);
      v -= p.presence_penalty;
    }
    if (std::find(h.masked.begin(), h.masked.end(), static_cast<int32_t>(id)) != h.masked.end()) v = -inf;
    if (h.allowed && !(*h.allowed)[id]) v = -inf;
    out[id] = v;
  }
  return out;
}

// Unmasked ids, best first: logit descending, lower id first on ties.
inline std::vector<int32_t> reference_order(const std::vector<float>& logits) {
  std::vector<int32_t> order;
  for (size_t i = 0; i < logits.size(); i++)
    if (logits[i] > -std::numeric_limits<float>::infinity()) order.push_back(static_cast<int32_t>(i));
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return logits[a] > logits[b] || (logits[a] == logits[b] && a < b); });
  return order;
}

// Stage 3 over a processed row with the uniform u; -1 when everything is masked.
inline int32_t reference_draw(const std::vector<float>& logits, const SamplingParams& p, double u) {
  const std::vector<int32_t> order = reference_order(logits);
  if (order.empty()) return -1;
  if (p.temperature <= 0) return order[0];
  const float max = logits[order[0]];
  auto q = [&](int32_t id) { return std::exp((static_cast<double>(logits[id]) - max) / p.temperature); };
  size_t kept = order.size();
  if (p.top_k > 0 && static_cast<size_t>(p.top_k) < kept) kept = p.top_k;
  for (size_t i = 0; i < kept; i++)
    if (p.min_p > 0 && q(order[i]) < p.min_p) {
      kept = i;
      break;
    }
  double mass = 0;
  if (kept < order.size()) {
    for (size_t i = 0; i < kept; i++) mass += q(order[i]);
  } else {
    for (size_t id = 0; id < logits.size(); id++)
      if (logits[id] > -std::numeric_limits<float>::infinity()) mass += q(static_cast<int32_t>(id));
  }
  if (p.top_p < 1) {
    double running = 0;
    for (size_t i = 0; i < kept; i++) {
      running += q(order[i]);
      if (running >= p.top_p * mass) {
        kept = i + 1;
        break;
      }
    }
    mass = running;
  }
  double r = u * mass;
  for (size_t i = 0; i < kept; i++) {
    r -= q(order[i]);
    if (r < 0) return order[i];
  }
  return order[kept - 1];
}

// log-softmax of the raw row, in double.
inline std::vector<double> reference_logprobs(const std::vector<float>& raw) {
  double max = -std::numeric_limits<double>::infinity(), z = 0;
  for (float v : raw) max = std::max<double>(max, v);
  for (float v : raw) z += std::exp(v - max);
  std::vector<double> out(raw.size());
  for (size_t i = 0; i < raw.size(); i++) out[i] = raw[i] - max - std::log(z);
  return out;
}

}  // namespace tidepool::testing
