// Sampler stages in isolation: the fast exponent's error on every vector path the CPU has, the
// normaliser's error bound on random rows, partial selection against a full sort (ties, masks, -inf,
// floors), the draw's requests for more candidates or the exact normaliser when the fast values cannot
// settle it, and no allocation per token once the sampler's buffers have grown.
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <new>
#include <random>

#include "sampling/candidate_selection.h"
#include "sampling/normaliser.h"
#include "sampling/sampler.h"
#include "sampling/token_draw.h"
#include "sampling_reference.h"
#include "sampling_rows.h"
#include "test_support.h"

using namespace tidepool;
using namespace tidepool::testing;

// Every allocation in this binary is counted, so the steady-state check below can see none happen.
static std::atomic<int64_t> g_allocations{0};
void* operator new(size_t n) {
  g_allocations++;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace {

// exp over [-87, 0] on one path, 16 equal lanes at a time (max = 0, T = 1): within kFastExpRelError,
// and each lane bit-equal to the scalar form of the same path (normaliser.cpp relies on it).
void check_exponent(const char* path) {
  double worst = 0;
  std::vector<float> lanes(16);
  for (double x = -87.0; x <= 0; x += 0.00731) {
    std::fill(lanes.begin(), lanes.end(), static_cast<float>(x));
    const double exact = std::exp(static_cast<double>(static_cast<float>(x)));
    const ExpSums pass = fast_pass(RowView{lanes.data(), 16, nullptr}, 0.0f, 1.0f);
    CHECK(pass.z == 16.0 * fast_exp(static_cast<float>(x), pass.form));
    const double plain = fast_exp(static_cast<float>(x), ExpForm::Plain),
                 fused = fast_exp(static_cast<float>(x), ExpForm::Fused);
    worst = std::max(
        {worst, std::fabs(pass.z / 16 / exact - 1), std::fabs(plain / exact - 1), std::fabs(fused / exact - 1)});
  }
  std::cout << "fast exp (" << path << "): worst relative error " << worst << " (bound " << kFastExpRelError << ")\n";
  CHECK(worst <= kFastExpRelError);
}

TokenMask random_mask(std::mt19937_64& rng, int32_t vocab, double density) {
  TokenMask m;
  m.reset(vocab);
  std::uniform_real_distribution<double> unit(0, 1);
  for (int32_t id = 0; id < vocab; id++)
    if (unit(rng) < density) m.allow(id);
  m.finish();
  return m;
}

void check_normaliser_bound(std::mt19937_64& rng) {
  CandidateSelector selector;
  double worst_ratio = 0, worst_rel = 0;
  for (int i = 0; i < 400; i++) {
    const int32_t vocab = 1 + static_cast<int32_t>(rng() % 6000);
    std::vector<float> row = random_row(rng, vocab, kind_of(i));
    if (i % 5 == 0) row[rng() % vocab] = -std::numeric_limits<float>::infinity();
    const TokenMask mask = random_mask(rng, vocab, i % 3 == 0 ? 0.05 : 0.6);
    const RowView view{row.data(), vocab, i % 2 ? &mask : nullptr};
    if (view.mask && view.mask->count == 0) continue;
    float max = -std::numeric_limits<float>::infinity();
    for (int32_t id = 0; id < vocab; id++)
      if (!view.mask || view.mask->allows(id)) max = std::max(max, row[id]);
    if (!(max > -std::numeric_limits<float>::infinity())) continue;
    const float t = std::vector<float>{0.05f, 0.7f, 1.0f, 3.0f}[i % 4];
    const double exact = exact_normaliser(view, max, t);
    const ExpSums pass = fast_pass(view, max, t);
    std::vector<Candidate> top;
    selector.select(view, std::vector<int32_t>{1, 64, 1000}[i % 3], INFINITY, top);
    std::vector<double> exact_terms;
    candidate_weights(top, t, exact_terms);
    for (const Normaliser& n : {combine(pass, {}, {}, max, t), combine(pass, top, exact_terms, max, t)}) {
      CHECK(std::fabs(n.z - exact) <= n.error);
      worst_ratio = std::max(worst_ratio, std::fabs(n.z - exact) / n.error);
      worst_rel = std::max(worst_rel, std::fabs(n.z - exact) / exact);
    }
  }
  std::cout << "normaliser: 400 rows, with and without exact candidates, worst |error| / bound " << worst_ratio
            << ", worst relative error " << worst_rel << "\n";
}

void check_selection(std::mt19937_64& rng) {
  CandidateSelector selector;
  std::vector<Candidate> out;
  for (int i = 0; i < 600; i++) {
    const int32_t vocab = 1 + static_cast<int32_t>(rng() % (i < 20 ? 151936 : 5000));
    std::vector<float> row = random_row(rng, vocab, kind_of(i));
    if (i % 7 == 0) std::sort(row.begin(), row.end());  // ascending: every entry raises the threshold
    for (int j = 0; j < (i % 4 == 1 ? vocab / 3 : 0); j++) row[rng() % vocab] = -std::numeric_limits<float>::infinity();
    const TokenMask mask = random_mask(rng, vocab, i % 3 == 0 ? 0.02 : 0.5);
    const bool masked = i % 2 == 0;
    std::vector<float> reference = row;
    if (masked)
      for (int32_t id = 0; id < vocab; id++)
        if (!mask.allows(id)) reference[id] = -std::numeric_limits<float>::infinity();
    const std::vector<int32_t> order = reference_order(reference);
    const int32_t count = std::vector<int32_t>{1, 5, 64, 300, vocab}[rng() % 5];
    // Half the time also a floor: every entry at or above the logit of a random rank must come too.
    const size_t floor_rank = order.empty() ? 0 : rng() % order.size();
    const float floor = i % 2 && !order.empty() ? reference[order[floor_rank]] : INFINITY;
    size_t want = std::min<size_t>(count, order.size());
    while (want < order.size() && reference[order[want]] >= floor) want++;
    const bool complete = selector.select(RowView{row.data(), vocab, masked ? &mask : nullptr}, count, floor, out);
    CHECK(out.size() == want);
    // complete may be conservatively false (a floor can take every entry without knowing it)
    CHECK(!complete || out.size() == order.size());
    CHECK(complete || out.size() >= static_cast<size_t>(count));
    for (size_t k = 0; k < out.size(); k++) CHECK(out[k].id == order[k] && out[k].logit == row[order[k]]);
  }
  std::cout << "selection: 600 rows (ties, sorted, -inf, dense and listed masks, floors) equal a full sort\n";
}

// A normaliser bound that straddles a bucket edge asks for the exact one; a draw past the last
// candidate asks for more; the exact values then settle it.
void check_draw_requests() {
  SamplingParams p;
  p.temperature = 1;
  SamplingCandidates c;
  c.top = {{0, 0.0f, 0.0f}, {1, std::log(0.5f), std::log(0.5f)}};  // q = 1, 0.5
  c.universe = 1000;
  c.z = 3.0;
  c.z_error = 0.1;
  std::vector<double> scratch, q;
  candidate_weights(c.top, 1.0f, q);
  CandidateRequest asked;
  asked.count = 2;
  asked.normaliser = true;
  // u * z = 1.0 +- 0.033: straddles the edge after q_0 = 1
  DrawOutcome o = draw_token(p, c, asked, 1.0 / 3.0, q, scratch);
  CHECK(o.status == DrawOutcome::Status::NeedExactNormaliser && o.next.exact_normaliser);
  c.z_error = 0;
  CHECK(draw_token(p, c, o.next, 1.0 / 3.0 - 1e-9, q, scratch).index == 0);
  // u * z = 2.7: past both candidates (mass 1.5), not complete
  o = draw_token(p, c, asked, 0.9, q, scratch);
  CHECK(o.status == DrawOutcome::Status::NeedCandidates && (o.next.count > 2 || o.next.floor < c.top[1].logit));
  c.complete = true;  // nothing beyond: rounding's edge case, the last kept entry
  CHECK(draw_token(p, c, asked, 0.9, q, scratch).index == 1);
  // top_p cut unprovable inside the bound
  c.complete = false;
  p.top_p = 0.5f;  // target 1.0 +- 0.05 against running sums 1, 1.5
  c.z = 2.0;
  c.z_error = 0.1;
  CHECK(draw_token(p, c, asked, 0.5, q, scratch).status == DrawOutcome::Status::NeedExactNormaliser);
  std::cout << "draw: unsettled draws ask for the exact normaliser or more candidates\n";
}

// Once its buffers have grown for a set of rows, the sampler allocates nothing per token, in every mode.
void check_no_allocation(std::mt19937_64& rng) {
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 8; i++) rows.push_back(random_row(rng, 20000, kind_of(i)));
  std::vector<SamplingParams> modes(5);
  modes[1].temperature = 0.8f;
  modes[2].temperature = 0.8f;
  modes[2].top_p = 0.9f;
  modes[3].temperature = 1.0f;
  modes[3].top_k = 40;
  modes[3].repetition_penalty = 1.2f;
  modes[3].logit_bias = {{5, 2.0f}};
  modes[4].temperature = 1.0f;
  modes[4].logprobs = true;
  modes[4].top_logprobs = 20;
  TokenCounts counts;
  counts.reset(64);
  for (int32_t id : {1, 2, 3, 500}) counts.add_output(id);
  const std::vector<int32_t> masked = {7, 9};
  TokenMask allowed;
  allowed.reset(20000);
  for (int32_t id = 0; id < 20000; id += 3) allowed.allow(id);
  allowed.finish();
  const std::vector<std::vector<float>> pristine = rows;
  Sampler sampler;
  SampledToken out;
  int64_t before = 0;
  for (int pass = 0; pass < 2; pass++) {  // the first pass grows the buffers, the second must not allocate
    if (pass == 1) before = g_allocations.load();
    for (size_t m = 0; m < modes.size(); m++)
      for (int k = 0; k < 64; k++) {
        std::vector<float>& row = rows[k % rows.size()];
        Rng r(k);
        const SampleRequest request{&modes[m], &r, &counts, &masked, k % 2 ? &allowed : nullptr};
        const int64_t mark = g_allocations.load();
        sampler.sample(request, row.data(), 20000, out);
        if (pass == 1 && g_allocations.load() != mark) std::cerr << "mode " << m << " row " << k << " allocated\n";
        if (pass == 1) CHECK(g_allocations.load() == mark);
        row = pristine[k % rows.size()];  // undo stage 1, so the second pass sees the first pass's rows
      }
  }
  std::cout << "allocation: " << g_allocations.load() - before << " allocations in 320 warm samples across 5 modes\n";
}

}  // namespace

int main() {
  std::mt19937_64 rng(2024);
  for (const char* path : {"sse2", "avx2", "avx512"}) {
    if (!use_vector_path(path)) {
      std::cout << path << ": not on this CPU\n";
      continue;
    }
    check_exponent(path);
    check_normaliser_bound(rng);
  }
  use_vector_path("best");
  check_selection(rng);
  check_draw_requests();
  check_no_allocation(rng);
  std::cout << "PASS\n";
  return 0;
}
