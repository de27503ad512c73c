#include "token_draw.h"

#include <algorithm>
#include <cmath>

namespace tidepool {

namespace {

constexpr int32_t kFirstCount = 64;  // covers the draw for a peaked distribution most of the time
constexpr int32_t kGrowth = 8;

DrawOutcome need_more(const CandidateRequest& asked, int32_t count, double floor = INFINITY) {
  DrawOutcome o;
  o.status = DrawOutcome::Status::NeedCandidates;
  o.next = asked;
  o.next.count = std::max(count, asked.count);
  bool progress = count > asked.count;
  if (std::isfinite(floor)) {
    // Rounded down, so float rounding never leaves out an entry the bound promised.
    o.next.floor = std::min(asked.floor, std::nextafter(static_cast<float>(floor), -INFINITY));
    progress = progress || o.next.floor < asked.floor;
  }
  if (!progress) o.next.count = asked.count * kGrowth;
  return o;
}

// The logit above which entries hold all but `spare` of the mass: entries below q = spare / universe
// sum to less than spare. Infinite (no floor) when spare is not positive.
double floor_for(const SamplingCandidates& c, double spare, double t) {
  if (!(spare > 0) || c.universe <= 0) return INFINITY;
  return c.top[0].logit + t * std::log(spare / c.universe);
}

DrawOutcome need(const CandidateRequest& asked, bool exact) {
  DrawOutcome o;
  o.status = exact ? DrawOutcome::Status::NeedExactNormaliser : DrawOutcome::Status::NeedCandidates;
  o.next = asked;
  o.next.normaliser = true;
  o.next.exact_normaliser = exact;
  return o;
}

DrawOutcome done(int32_t index) {
  DrawOutcome o;
  o.index = index;
  return o;
}

// First index < limit whose running sum reaches target, or -1.
int32_t first_reaching(const double* sums, size_t limit, double target) {
  for (size_t i = 0; i < limit; i++)
    if (sums[i] >= target) return static_cast<int32_t>(i);
  return -1;
}

// The draw's walk: subtract q from r in order; the first index where r < 0, or -1.
int32_t walk(const double* q, size_t limit, double r) {
  for (size_t i = 0; i < limit; i++) {
    r -= q[i];
    if (r < 0) return static_cast<int32_t>(i);
  }
  return -1;
}

}  // namespace

CandidateRequest first_request(const SamplingParams& params, int32_t universe) {
  CandidateRequest r;
  r.temperature = params.greedy() ? 1.0f : params.temperature;
  if (params.greedy()) return r;
  const bool top_k = params.top_k > 0 && params.top_k < universe;
  r.count = top_k ? params.top_k : kFirstCount;
  r.normaliser = !top_k && params.min_p <= 0;  // nothing truncates before top_p: the draw needs z
  return r;
}

void candidate_weights(const std::vector<Candidate>& top, float temperature, std::vector<double>& q) {
  q.resize(top.size());
  if (top.empty()) return;
  const double max = top[0].logit, t = temperature;
  for (size_t i = 0; i < top.size(); i++) q[i] = std::exp((static_cast<double>(top[i].logit) - max) / t);
}

DrawOutcome draw_token(const SamplingParams& params, const SamplingCandidates& c, const CandidateRequest& asked, double u,
                       const std::vector<double>& weights, std::vector<double>& scratch) {
  if (params.greedy()) return done(0);
  const size_t n = c.top.size();
  const double* q = weights.data();
  scratch.resize(n);
  double* sums = scratch.data();
  const double t = params.temperature;
  double running = 0;
  for (size_t i = 0; i < n; i++) sums[i] = running += q[i];

  // 1. truncation (top_k set at or above the unmasked count, or min_p that keeps everything, is off)
  bool truncated = false;
  size_t kept = n;
  if (params.top_k > 0) {
    const size_t k = static_cast<size_t>(params.top_k);
    if (k < n || (k == n && !c.complete)) {
      kept = k;
      truncated = true;
    } else if (!c.complete) {
      return need_more(asked, params.top_k);
    }
  }
  if (params.min_p > 0) {
    size_t i = 0;
    while (i < kept && q[i] >= params.min_p) i++;
    if (i < kept) {
      kept = i;
      truncated = true;
    } else if (!truncated && !c.complete) {
      return need_more(asked, 0, c.top[0].logit + t * std::log(static_cast<double>(params.min_p)) - 1e-3 * t);
    }
  }
  // 2. mass
  double lo, hi;
  if (truncated) {
    lo = hi = sums[kept - 1];
  } else {
    if (!asked.normaliser) return need(asked, false);
    lo = std::max(c.z - c.z_error, n ? sums[n - 1] : 0.0);
    hi = c.z + c.z_error;
  }
  // 3. top_p
  bool bounded = truncated || c.complete;  // the kept prefix ends inside the candidates
  if (params.top_p < 1) {
    const int32_t k_lo = first_reaching(sums, kept, params.top_p * lo);
    int32_t k_hi = first_reaching(sums, kept, params.top_p * hi);
    if (k_hi < 0) {
      if (!bounded) return need_more(asked, 0, floor_for(c, lo - params.top_p * hi, t));
      k_hi = static_cast<int32_t>(kept) - 1;
    }
    if (k_lo != k_hi) return need(asked, true);
    kept = k_hi + 1;
    lo = hi = sums[kept - 1];
    bounded = true;
  }
  // 4. draw
  int32_t i_lo = walk(q, kept, u * lo), i_hi = walk(q, kept, u * hi);
  if (i_lo < 0 || i_hi < 0) {
    if (!bounded) return need_more(asked, 0, floor_for(c, lo - u * hi, t));
    if (i_lo < 0) i_lo = static_cast<int32_t>(kept) - 1;
    if (i_hi < 0) i_hi = static_cast<int32_t>(kept) - 1;
  }
  if (i_lo != i_hi) return need(asked, true);
  return done(i_lo);
}

}  // namespace tidepool
