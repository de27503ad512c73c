// The sampler's device path (Sampler::sample_prepared): stage 1 and stage 2's first request ran where the
// logits are (backends/device_sampling.h), and the host continues from their answer. The draw is the host
// path's (sampler.cpp), seeded with the device's candidates; it reads the rows only for what they do not
// hold, so tokens equal sample()'s on the same raw row and seed. Logprobs come from the device's raw
// distribution: its raw_log_z is summed in double (the host path's fast pass is within about 3e-7 of it).
#include <algorithm>

#include "errors.h"
#include "sampler.h"

namespace tidepool {

namespace {

float logprob_of(float raw, double raw_log_z) { return static_cast<float>(static_cast<double>(raw) - raw_log_z); }

// The raw logit of `id`: from the device's candidates when it is one of them, else from the raw row.
float raw_logit_of(const SamplingCandidates& first, RowSource& rows, int32_t id) {
  for (const Candidate& c : first.top)
    if (c.id == id) return c.raw_logit;
  for (const Candidate& c : first.raw_top)
    if (c.id == id) return c.raw_logit;
  return rows.raw()[id];
}

}  // namespace

void Sampler::report_prepared_logprobs(const SamplingParams& p, const SamplingCandidates& first, RowSource& rows,
                                       SampledToken& out) {
  if (first.raw_top.empty())
    throw EngineError("internal", "the device answered without the raw distribution logprobs need");
  out.has_logprob = true;
  out.logprob = logprob_of(raw_logit_of(first, rows, out.token), first.raw_log_z);
  out.top.clear();
  for (int32_t i = 0; i < p.top_logprobs && i < static_cast<int32_t>(first.raw_top.size()); i++)
    out.top.emplace_back(first.raw_top[i].id, logprob_of(first.raw_top[i].raw_logit, first.raw_log_z));
}

void Sampler::sample_prepared(const SampleRequest& request, const SamplingCandidates& first, RowSource& rows,
                              SampledToken& out) {
  const SamplingParams& p = *request.params;
  out.has_logprob = false;
  out.top.clear();
  const double u = p.greedy() ? 0 : request.rng->uniform();
  const int32_t index = draw(request, rows, first.universe, u, &first);
  out.token = index < 0 ? -1 : candidates_.top[index].id;
  if (index >= 0 && p.logprobs) report_prepared_logprobs(p, first, rows, out);
}

}  // namespace tidepool
