#include "token_draw.h"

#include <algorithm>
#include <cmath>

namespace tidepool {

namespace {

constexpr int32_t kFirstCount = 64;  // covers the draw for a peaked distribution most of the time
constexpr int32_t kGrowth = 8;
constexpr int32_t kCheapCount = 512;

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

namespace {

// The draw's working state: the kept prefix of the candidates and the interval holding its mass R.
struct Cut {
  size_t kept = 0;
  bool truncated = false;  // by top_k or min_p
  bool bounded = false;    // the kept prefix is known to end inside the candidates
  double lo = 0, hi = 0;
};

// Step 1: top_k and min_p. A top_k at or above the unmasked count, or a min_p that keeps everything, is off.
bool truncate(const SamplingParams& p, const SamplingCandidates& c, const double* q, const CandidateRequest& asked,
              Cut& cut, DrawOutcome& more) {
  cut.kept = c.top.size();
  if (p.top_k > 0) {
    const size_t k = static_cast<size_t>(p.top_k);
    if (k < cut.kept || (k == cut.kept && !c.complete)) {
      cut.kept = k;
      cut.truncated = true;
    } else if (!c.complete) {
      more = need_more(asked, p.top_k);
      return false;
    }
  }
  if (p.min_p > 0) {
    size_t i = 0;
    while (i < cut.kept && q[i] >= p.min_p) i++;
    if (i < cut.kept) {
      cut.kept = i;
      cut.truncated = true;
    } else if (!cut.truncated && !c.complete) {
      const double t = p.temperature;
      more = need_more(asked, 0, c.top[0].logit + t * std::log(static_cast<double>(p.min_p)) - 1e-3 * t);
      return false;
    }
  }
  cut.bounded = cut.truncated || c.complete;
  return true;
}

// Step 3: the shortest prefix whose running sum reaches top_p * R, for every R in [lo, hi].
bool cut_top_p(const SamplingParams& p, const SamplingCandidates& c, const double* sums, const CandidateRequest& asked,
               Cut& cut, DrawOutcome& more) {
  int32_t k_lo = first_reaching(sums, cut.kept, p.top_p * cut.lo),
          k_hi = first_reaching(sums, cut.kept, p.top_p * cut.hi);
  if (k_hi < 0) {
    if (!cut.bounded) {
      more = need_more(asked, 0, floor_for(c, cut.lo - p.top_p * cut.hi, p.temperature));
      return false;
    }
    k_hi = static_cast<int32_t>(cut.kept) - 1;  // only rounding keeps the target out of reach
    if (k_lo < 0) k_lo = k_hi;
  }
  if (k_lo != k_hi) {
    more = need(asked, true);
    return false;
  }
  cut.kept = k_hi + 1;
  cut.lo = cut.hi = sums[cut.kept - 1];
  cut.bounded = true;
  return true;
}

}  // namespace

DrawOutcome draw_token(const SamplingParams& params, const SamplingCandidates& c, const CandidateRequest& asked,
                       double u, const std::vector<double>& weights, std::vector<double>& scratch) {
  if (params.greedy()) return done(0);
  const size_t n = c.top.size();
  const double* q = weights.data();
  scratch.resize(n);
  double* sums = scratch.data();
  double running = 0;
  for (size_t i = 0; i < n; i++) sums[i] = running += q[i];
  Cut cut;
  DrawOutcome more;
  if (!truncate(params, c, q, asked, cut, more)) return more;
  // 2. the mass: exact when truncated, else the normaliser's interval (never below the candidates' sum)
  if (cut.truncated) {
    cut.lo = cut.hi = sums[cut.kept - 1];
  } else {
    if (!asked.normaliser) return need(asked, false);
    cut.hi = c.z + c.z_error;
    cut.lo = std::min(std::max(c.z - c.z_error, sums[n - 1]), cut.hi);
  }
  if (params.top_p < 1 && !cut_top_p(params, c, sums, asked, cut, more)) return more;
  // 4. the walk, for both ends of the interval
  int32_t i_lo = walk(q, cut.kept, u * cut.lo), i_hi = walk(q, cut.kept, u * cut.hi);
  if (i_lo < 0 || i_hi < 0) {
    // Most draws past the first candidates land soon after them: a few hundred more settle them for
    // less than the floor's sure but larger set.
    if (!cut.bounded && asked.count < kCheapCount && !std::isfinite(asked.floor))
      return need_more(asked, asked.count * kGrowth);
    if (!cut.bounded) return need_more(asked, 0, floor_for(c, cut.lo - u * cut.hi, params.temperature));
    if (i_lo < 0) i_lo = static_cast<int32_t>(cut.kept) - 1;
    if (i_hi < 0) i_hi = static_cast<int32_t>(cut.kept) - 1;
  }
  if (i_lo != i_hi) return need(asked, true);
  return done(i_lo);
}

}  // namespace tidepool
