// The device-sampling path of the sampler and the step loop (Sampler::sample_prepared, engine_prepared.cpp)
// against the host path on the same logits, with the device's answers computed by prepared_backend.h's
// reference (a stand-in for sampling_prep.cu, so this runs without a GPU):
//   - sampler: 600 random rows (peaked, Gaussian, tied, flat) under random parameters (temperature, top_k,
//     top_p, min_p, penalties, logit_bias, min_tokens masks, dense and sparse grammar masks, logprobs):
//     the same token as Sampler::sample on the raw row, logprobs within 2e-6, and rows read only when the
//     answer does not settle the draw;
//   - engine: a batch of sequences covering every parameter, a grammar, an unanswerable top_k and a flat
//     distribution, on an engine whose backend prepares sampling and on the plain CPU engine: the same
//     tokens, ends and logprobs; the same again with every row unanswered (the host samples fetched rows).
#include <cmath>
#include <iostream>
#include <random>

#include "engine_harness.h"
#include "prepared_backend.h"
#include "sampling_path_cases.h"
#include "sampling_rows.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

// ---- the sampler on random rows

class TestRows : public RowSource {
 public:
  TestRows(const std::vector<float>& raw, const std::vector<float>& processed, const TokenMask* mask)
      : raw_(raw), processed_(processed), mask_(mask) {}
  RowView processed() override {
    reads++;
    return RowView{processed_.data(), static_cast<int32_t>(processed_.size()), mask_};
  }
  const float* raw() override {
    reads++;
    return raw_.data();
  }
  int reads = 0;

 private:
  const std::vector<float>& raw_;
  const std::vector<float>& processed_;
  const TokenMask* mask_;
};

SamplingParams random_params(std::mt19937_64& rng, int32_t vocab) {
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  SamplingParams p;
  p.temperature = rng() % 4 == 0 ? 0.0f : 0.2f + 2.0f * unit(rng);
  if (rng() % 2) p.top_p = 0.5f + 0.5f * unit(rng);
  if (rng() % 3 == 0) p.top_k = 1 + static_cast<int32_t>(rng() % 400);  // past 256: unanswered
  if (rng() % 3 == 0) p.min_p = 0.2f * unit(rng);
  if (rng() % 3 == 0) {
    p.repetition_penalty = 0.5f + unit(rng);
    p.frequency_penalty = unit(rng) - 0.5f;
    p.presence_penalty = unit(rng) - 0.5f;
  }
  if (rng() % 3 == 0)
    for (int32_t id = static_cast<int32_t>(rng() % 50); id < vocab; id += 1 + static_cast<int32_t>(rng() % (vocab / 4)))
      p.logit_bias.emplace_back(id, 20.0f * unit(rng) - 10.0f);
  p.logprobs = rng() % 2 == 0;
  p.top_logprobs = p.logprobs ? static_cast<int32_t>(rng() % 21) : 0;
  return p;
}

TokenMask random_mask(std::mt19937_64& rng, int32_t vocab, bool sparse) {
  TokenMask m;
  m.reset(vocab);
  for (int32_t id = 0; id < vocab; id++)
    if (rng() % (sparse ? 40 : 2) == 0) m.allow(id);
  m.allow(static_cast<int32_t>(rng() % vocab));
  m.finish();
  return m;
}

void check_sampler_rows() {
  std::mt19937_64 rng(7);
  Sampler host, device;
  SampledToken a, b;
  int same = 0, with_reads = 0, cases = 600;
  for (int i = 0; i < cases; i++) {
    const int32_t vocab = i % 3 == 0 ? 151936 / 8 : 1000 + static_cast<int32_t>(rng() % 3000);
    const std::vector<float> raw = random_row(rng, vocab, kind_of(i));
    const SamplingParams p = random_params(rng, vocab);
    TokenCounts counts;
    counts.reset(64);
    for (int k = 0; k < 20; k++)
      (k < 10 ? counts.add_prompt(static_cast<int32_t>(rng() % vocab))
              : counts.add_output(static_cast<int32_t>(rng() % vocab)));
    const std::vector<int32_t> masked = {static_cast<int32_t>(rng() % vocab), static_cast<int32_t>(rng() % vocab)};
    const TokenMask mask = random_mask(rng, vocab, i % 2 == 0);
    SampleRequest request;
    request.params = &p;
    request.counts = &counts;
    request.masked = i % 5 == 0 ? &masked : nullptr;
    request.allowed = i % 4 == 0 ? &mask : nullptr;
    RowSampling row;
    row.ask = first_ask(p, request.allowed ? mask.count : vocab);
    row.ask.raw_top = p.logprobs ? p.top_logprobs : -1;
    row.params = &p;
    row.counts = p.penalizes() ? &counts : nullptr;
    row.masked = request.masked;
    row.allowed = request.allowed;
    std::vector<float> processed, scratch = raw;
    const RowCandidates answer = reference_prepare(raw.data(), vocab, row, processed);
    Rng r1(100 + i), r2(100 + i);
    request.rng = &r1;
    host.sample(request, scratch.data(), vocab, a);
    TestRows rows(raw, processed, request.allowed);
    request.rng = &r2;
    scratch = raw;
    if (answer.answered) device.sample_prepared(request, answer.candidates, rows, b);
    else device.sample(request, scratch.data(), vocab, b);
    bool ok = a.token == b.token && a.has_logprob == b.has_logprob && a.top.size() == b.top.size();
    if (ok && a.has_logprob) ok = close_logprob(a.logprob, b.logprob);
    for (size_t k = 0; ok && k < a.top.size(); k++)
      ok = a.top[k].first == b.top[k].first && close_logprob(a.top[k].second, b.top[k].second);
    if (!ok) std::cout << "case " << i << ": host token " << a.token << ", device path " << b.token << "\n";
    same += ok;
    with_reads += answer.answered && rows.reads > 0;
  }
  std::cout << "sampler: " << same << " of " << cases << " random rows give the host path's token and logprobs; "
            << with_reads << " answered rows needed the rows (more candidates or the exact normaliser)\n";
  CHECK(same == cases);
  CHECK(with_reads > 0);
}

// ---- the step loop, device path against host path (cases in sampling_path_cases.h)

std::unique_ptr<EngineCore> engine_on(std::unique_ptr<Backend> backend, const std::string& dir) {
  EngineOptions o;
  o.kv_budget_bytes = size_t(64) << 20;
  o.memory_budget_bytes = size_t(256) << 20;
  auto engine = std::make_unique<EngineCore>(std::move(backend), o);
  engine->install_model("m", load_model_dir(dir));
  register_json(*engine);
  return engine;
}

void check_engine(const std::string& dir) {
  BackendOptions b;
  b.threads = 1;
  const std::vector<SequenceSpec> specs = batch_specs();
  auto host = engine_on(make_cpu_backend(b), dir);
  const Outcome want = run_batch(*host, specs);
  CHECK(host->prepared_sampling().steps == 0);  // the CPU backend offers no device path
  for (bool answering : {true, false}) {
    auto backend = std::make_unique<PreparingBackend>(make_cpu_backend(b));
    backend->set_answering(answering);
    PreparingBackend* prepared = backend.get();
    auto device = engine_on(std::move(backend), dir);
    const Outcome got = run_batch(*device, specs);
    const EngineCore::PreparedSamplingStats st = device->prepared_sampling();
    std::cout << "engine, device " << (answering ? "answering" : "answering nothing") << ": " << st.steps << " steps, "
              << st.rows << " rows, " << st.rows_fetched << " rows fetched; tokens, ends and logprobs "
              << (same_outcome(want, got) ? "equal the host path's" : "DIFFER") << "\n";
    CHECK(same_outcome(want, got));
    CHECK(st.steps > 0 && st.rows >= st.steps);
    CHECK(st.rows_fetched == prepared->rows_fetched());
    CHECK(answering ? st.rows_fetched > 0 && st.rows_fetched < st.rows : st.rows_fetched == st.rows);
  }
}

}  // namespace

int main() {
  check_sampler_rows();
  const std::string dir = make_temp_dir("prepared-sampling");
  write_synthetic_model(dir, SynthSpec{});
  check_engine(dir);
  std::cout << "PASS\n";
  return 0;
}
