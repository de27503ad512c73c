// The whole sampler against the plain reference (sampling_reference.h) on random rows and random
// parameters, a third of them under a mask of allowed ids: every token equal, stage 1's processed row bit-equal,
// logprobs within 5e-7 (beyond f32 rounding) of a double log-softmax with the reference's alternatives in the
// reference's order, the chosen token's logprob bit-equal to its own alternative entry, the same tokens for the same
// seed; and, for callers that set only temperature and top_p, the tokens of the sampler this one replaced (kept
// verbatim below).
#include <algorithm>
#include <cmath>
#include <iostream>
#include <numeric>
#include <random>

#include "sampling/logit_processing.h"
#include "sampling/sampler.h"
#include "sampling_reference.h"
#include "sampling_rows.h"
#include "test_support.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

// The previous sampler (full stable_sort), verbatim but for its name.
int32_t legacy_sample_token(const float* logits, int n, float temperature, float top_p, Rng& rng) {
  if (temperature <= 0) return static_cast<int32_t>(std::max_element(logits, logits + n) - logits);
  const float max_logit = *std::max_element(logits, logits + n);
  std::vector<double> probs(n);
  double sum = 0;
  for (int i = 0; i < n; i++) sum += probs[i] = std::exp((static_cast<double>(logits[i]) - max_logit) / temperature);
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
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

template <typename T>
T pick(std::mt19937_64& rng, std::vector<T> options) {
  return options[rng() % options.size()];
}

SamplingParams random_params(std::mt19937_64& rng, int32_t vocab) {
  SamplingParams p;
  p.temperature = pick<float>(rng, {0, 0.3f, 0.7f, 1, 1.6f});
  p.top_p = pick<float>(rng, {1, 1, 0.95f, 0.6f, 0.1f});
  p.top_k = pick<int32_t>(rng, {0, 0, 1, 7, 50, 2000});
  p.min_p = pick<float>(rng, {0, 0, 0.05f, 0.3f});
  p.repetition_penalty = pick<float>(rng, {1, 1, 1.3f, 0.8f});
  p.frequency_penalty = pick<float>(rng, {0, 0, 0.5f, -0.4f});
  p.presence_penalty = pick<float>(rng, {0, 0, 1.2f, -2});
  for (int i = 0; i < pick<int>(rng, {0, 0, 3, 40}); i++)
    p.logit_bias.push_back({static_cast<int32_t>(rng() % vocab), pick<float>(rng, {-100, -3, 5, 100})});
  std::sort(p.logit_bias.begin(), p.logit_bias.end());
  p.logit_bias.erase(
      std::unique(p.logit_bias.begin(), p.logit_bias.end(), [](auto& a, auto& b) { return a.first == b.first; }),
      p.logit_bias.end());
  p.logprobs = rng() % 2;
  p.top_logprobs = p.logprobs ? pick<int32_t>(rng, {0, 1, 5, 20}) : 0;
  return p;
}

// A logprob's distance from the reference beyond the half ulp that writing it as a float costs.
double logprob_error(float got, double want) {
  const float f = static_cast<float>(want);
  return std::fabs(got - want) - 0.5 * (std::nextafter(std::fabs(f), INFINITY) - std::fabs(f));
}

struct Totals {
  int tokens = 0, logprobs = 0;
  double worst_logprob_error = 0;
};

// One random case: a sequence's history, a row, its parameters; the sampler against the reference.
void check_case(Sampler& sampler, std::mt19937_64& rng, int i, Totals& t) {
  const int32_t vocab = i % 100 == 0 ? 151936 : 1 + static_cast<int32_t>(rng() % 4000);
  const SamplingParams p = random_params(rng, vocab);
  ReferenceHistory h;
  for (int k = 0; k < static_cast<int>(rng() % 30); k++) h.prompt.push_back(static_cast<int32_t>(rng() % vocab));
  for (int k = 0; k < static_cast<int>(rng() % 30); k++)
    h.output.push_back(static_cast<int32_t>(rng() % std::min(vocab, 64)));
  for (int k = 0; k < (i % 3 == 0 ? 3 : 0); k++) h.masked.push_back(static_cast<int32_t>(rng() % vocab));
  TokenCounts counts;
  counts.reset(std::min<int32_t>(vocab, 60));
  for (int32_t id : h.prompt) counts.add_prompt(id);
  for (int32_t id : h.output) counts.add_output(id);
  const std::vector<float> raw = random_row(rng, vocab, kind_of(i));
  // A third of the cases under a grammar-like mask of allowed ids, dense or short enough to be listed.
  TokenMask allowed;
  std::vector<bool> allowed_bits(vocab, true);
  if (i % 3 == 2) {
    allowed.reset(vocab);
    const uint64_t one_in = i % 2 ? 2 : 20;
    for (int32_t id = 0; id < vocab; id++)
      if (rng() % one_in == 0) allowed.allow(id);
    allowed.finish();
    for (int32_t id = 0; id < vocab; id++) allowed_bits[id] = allowed.allows(id);
    h.allowed = &allowed_bits;
  }
  const uint64_t seed = rng();
  Rng engine_rng(seed), reference_rng(seed);
  std::vector<float> row = raw;
  SampleRequest request{&p, &engine_rng, &counts, &h.masked, i % 3 == 2 ? &allowed : nullptr};
  SampledToken got;
  sampler.sample(request, row.data(), vocab, got);

  const std::vector<float> processed = reference_processed(raw, p, h);
  for (int32_t id = 0; id < vocab; id++)  // the grammar's mask is read beside the row, not written into it
    if (allowed_bits[id]) CHECK(row[id] == processed[id] || (std::isnan(row[id]) && std::isnan(processed[id])));
  const int32_t want = reference_draw(processed, p, p.temperature > 0 ? reference_rng.uniform() : 0);
  if (got.token != want) std::cerr << "case " << i << ": token " << got.token << ", reference " << want << "\n";
  CHECK(got.token == want);
  t.tokens++;
  if (!p.logprobs || want < 0) return;
  const std::vector<double> lp = reference_logprobs(raw);
  const std::vector<int32_t> order = reference_order(raw);
  CHECK(got.has_logprob && static_cast<int32_t>(got.top.size()) == std::min<int32_t>(p.top_logprobs, vocab));
  t.worst_logprob_error = std::max(t.worst_logprob_error, logprob_error(got.logprob, lp[want]));
  for (size_t k = 0; k < got.top.size(); k++) {
    CHECK(got.top[k].first == order[k]);
    t.worst_logprob_error = std::max(t.worst_logprob_error, logprob_error(got.top[k].second, lp[order[k]]));
    if (got.top[k].first == got.token) CHECK(got.top[k].second == got.logprob);
  }
  t.logprobs++;
}

// Only temperature and top_p: the previous sampler's tokens, draw for draw.
void check_legacy(std::mt19937_64& rng) {
  Sampler sampler;
  int same = 0;
  for (int i = 0; i < 3000; i++) {
    const int32_t vocab = i % 100 == 0 ? 151936 : 2 + static_cast<int32_t>(rng() % 3000);
    SamplingParams p;
    p.temperature = pick<float>(rng, {0, 0.2f, 0.7f, 1, 2});
    p.top_p = pick<float>(rng, {1, 0.9f, 0.5f, 1e-4f});
    std::vector<float> row = random_row(rng, vocab, kind_of(i));
    const uint64_t seed = rng();
    Rng a(seed), b(seed);
    const int32_t old = legacy_sample_token(row.data(), vocab, p.temperature, p.top_p, a);
    SampleRequest request{&p, &b, nullptr, nullptr, nullptr};
    SampledToken got;
    sampler.sample(request, row.data(), vocab, got);
    if (got.token != old)
      std::cerr << "legacy case " << i << ": token " << got.token << ", previous sampler " << old << "\n";
    CHECK(got.token == old);
    same++;
  }
  std::cout << "legacy: " << same << " of 3000 draws (temperature + top_p) give the previous sampler's token\n";
}

void check_determinism(std::mt19937_64& rng) {
  const std::vector<float> raw = random_row(rng, 5000, RowKind::Gaussian);
  SamplingParams p;
  p.temperature = 1;
  auto run = [&](uint64_t seed) {
    Sampler sampler;
    Rng r(seed);
    std::vector<int32_t> tokens;
    for (int i = 0; i < 50; i++) {
      std::vector<float> row = raw;
      SampledToken got;
      sampler.sample(SampleRequest{&p, &r, nullptr, nullptr, nullptr}, row.data(), 5000, got);
      tokens.push_back(got.token);
    }
    return tokens;
  };
  CHECK(run(7) == run(7));
  CHECK(run(7) != run(8));
  std::cout << "determinism: the same seed gives the same 50 tokens, another seed others\n";
}

}  // namespace

int main() {
  std::mt19937_64 rng(99);
  Sampler sampler;
  Totals t;
  for (int i = 0; i < 4000; i++) check_case(sampler, rng, i, t);
  std::cout << "reference: " << t.tokens << " tokens equal, " << t.logprobs
            << " logprob sets, worst logprob error past f32 rounding " << t.worst_logprob_error << "; "
            << sampler.regrowths() << " candidate regrowths, " << sampler.exact_normalisers() << " exact normalisers\n";
  CHECK(t.worst_logprob_error < 5e-7);
  check_legacy(rng);
  check_determinism(rng);
  std::cout << "PASS\n";
  return 0;
}
