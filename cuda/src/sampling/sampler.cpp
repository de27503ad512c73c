#include "sampler.h"

#include <algorithm>
#include <cmath>

#include "errors.h"
#include "normaliser.h"
#include "token_draw.h"

namespace tidepool {

namespace {

constexpr int kMaxRounds = 32;  // growth by 8x reaches any vocabulary long before this

double log_z_of(float max, double z) { return static_cast<double>(max) + std::log(z); }

float logprob_of(float raw, double raw_log_z) { return static_cast<float>(static_cast<double>(raw) - raw_log_z); }

// The host path's rows: the processed row is the caller's, edited in place by stage 1.
class HostRows : public RowSource {
 public:
  explicit HostRows(const RowView& view) : view_(view) {}
  RowView processed() override { return view_; }
  const float* raw() override {
    throw EngineError("internal", "the host sampler has no raw row beside the processed one");
  }

 private:
  RowView view_;
};

}  // namespace

CandidateRequest first_ask(const SamplingParams& params, int32_t universe) {
  CandidateRequest r = first_request(params, universe);
  if (params.logprobs) r.count = std::max(r.count, params.top_logprobs);
  return r;
}

// The raw row's best `top_n` entries and log-normaliser, before stage 1 changes the row.
void Sampler::raw_distribution(const float* row, int32_t vocab, int32_t top_n) {
  const RowView raw_view{row, vocab, nullptr};
  selector_.select(raw_view, std::max(top_n, 1), INFINITY, raw_.top);
  const float max = raw_.top[0].logit;
  candidate_weights(raw_.top, 1.0f, raw_weights_);
  raw_.raw_log_z = log_z_of(max, combine(fast_pass(raw_view, max, 1.0f), raw_.top, raw_weights_, max, 1.0f).z);
}

// Stages 2 and 3 until the draw is settled; returns an index into candidates_.top, or -1 if all masked.
int32_t Sampler::draw(const SampleRequest& request, RowSource& rows, int32_t universe, double u,
                      const SamplingCandidates* first) {
  const SamplingParams& p = *request.params;
  candidates_.universe = universe;
  asked_ = first_ask(p, universe);
  CandidateRequest selected;  // what the current candidates answer
  selected.count = 0;
  bool have_pass = false, have_exact = false, have_z = false;  // have_z: z matches the current candidates
  if (first) {
    candidates_.top = first->top;
    candidates_.complete = first->complete;
    candidates_.z = first->z;
    candidates_.z_error = first->z_error;
    selected = asked_;
    if (candidates_.top.empty()) return -1;
    candidate_weights(candidates_.top, asked_.temperature, weights_);
    have_z = asked_.normaliser;
  }
  for (int round = 0; round < kMaxRounds; round++) {
    const bool reselect = asked_.count != selected.count || asked_.floor != selected.floor;
    if (reselect) {
      if (selected.count) regrowths_++;
      candidates_.complete = selector_.select(rows.processed(), asked_.count, asked_.floor, candidates_.top);
      selected = asked_;
      if (candidates_.top.empty()) return -1;
      candidate_weights(candidates_.top, asked_.temperature, weights_);
      have_z = false;
    }
    const float max = candidates_.top[0].logit;
    if (asked_.exact_normaliser && !have_exact) {
      candidates_.z = exact_normaliser(rows.processed(), max, asked_.temperature);
      candidates_.z_error = 0;
      have_exact = have_z = true;
      exact_normalisers_++;
    } else if (asked_.normaliser && !have_exact && !have_z) {
      if (!have_pass) pass_ = fast_pass(rows.processed(), max, asked_.temperature);
      have_pass = have_z = true;
      const Normaliser n = combine(pass_, candidates_.top, weights_, max, asked_.temperature);
      candidates_.z = n.z;
      candidates_.z_error = n.error;
    }
    const DrawOutcome o = draw_token(p, candidates_, asked_, u, weights_, scratch_);
    if (o.status == DrawOutcome::Status::Done) return o.index;
    asked_ = o.next;
  }
  throw EngineError("internal", "sampler did not settle a draw");
}

void Sampler::report_logprobs(const SamplingParams& p, bool raw_differs, const float* row, const RowView& view,
                              SampledToken& out) {
  out.has_logprob = true;
  out.top.clear();
  if (raw_differs) {
    const bool sorted = sort_edits(edits_);
    out.logprob = logprob_of(raw_logit(edits_, sorted, row, out.token), raw_.raw_log_z);
    for (int32_t i = 0; i < p.top_logprobs && i < static_cast<int32_t>(raw_.top.size()); i++)
      out.top.emplace_back(raw_.top[i].id, logprob_of(raw_.top[i].logit, raw_.raw_log_z));
    return;
  }
  // The row is the raw row: its candidates and, at temperature 1, its normaliser serve directly.
  const float max = candidates_.top[0].logit;
  if (asked_.temperature != 1.0f) candidate_weights(candidates_.top, 1.0f, weights_);
  const double z = (asked_.normaliser && asked_.temperature == 1.0f)
                       ? candidates_.z
                       : combine(fast_pass(view, max, 1.0f), candidates_.top, weights_, max, 1.0f).z;
  const double log_z = log_z_of(max, z);
  out.logprob = logprob_of(row[out.token], log_z);
  for (int32_t i = 0; i < p.top_logprobs && i < static_cast<int32_t>(candidates_.top.size()); i++)
    out.top.emplace_back(candidates_.top[i].id, logprob_of(candidates_.top[i].logit, log_z));
}

void Sampler::sample(const SampleRequest& request, float* row, int32_t vocab, SampledToken& out) {
  const SamplingParams& p = *request.params;
  const bool masks = request.masked && !request.masked->empty();
  const bool raw_differs = p.edits_logits() || masks || request.allowed;
  out.has_logprob = false;
  out.top.clear();
  if (p.logprobs && raw_differs) raw_distribution(row, vocab, p.top_logprobs);
  edits_.clear();
  static const TokenCounts kNoCounts;
  apply_logit_edits(p, request.counts ? *request.counts : kNoCounts, row, vocab, edits_);
  if (masks) mask_ids(*request.masked, row, vocab, edits_);
  const RowView view{row, vocab, request.allowed};
  const double u = p.greedy() ? 0 : request.rng->uniform();
  HostRows rows(view);
  const int32_t index = draw(request, rows, view.mask ? view.mask->count : vocab, u, nullptr);
  out.token = index < 0 ? -1 : candidates_.top[index].id;
  if (index >= 0 && p.logprobs) report_logprobs(p, raw_differs, row, view, out);
}

}  // namespace tidepool
