// Device sampling preparation (kernels/sampling_prep.cu) against a plain CPU reference written from the
// host sampler's rules (stage 1 in its order and float arithmetic; stage 2 by a full sort; normalisers
// summed in double in id order): processed rows bit-identical, candidates identical (ids, logits, raw
// logits, order, tie-breaks), z within the reported bound, raw log-normaliser, overflow where promised.
// Rows: the real vocabulary (151,936) and an odd one, greedy, top-64 with the normaliser, bias +
// penalties + min_tokens masks + raw top, a grammar mask, heavy ties at the cut, a floor too low to
// answer, and every id masked. Prints "SKIP: <reason>" and exits 77 only on a machine without a GPU
// (cuda_device.h); a broken CUDA setup fails.
#include <algorithm>
#include <chrono>
#include <numeric>

#include "../backends/cuda/cuda_device.h"
#include "../kernels/sampling_prep.h"
#include "kernel_test_support.cuh"

using namespace tidepool::cuda;
using namespace tidepool::cuda::test;

namespace {

struct RowCase {
  std::string what;
  PrepRow row;
  std::vector<std::pair<int32_t, float>> bias;
  std::vector<std::pair<int32_t, int32_t>> seen;  // (id, output count)
  std::vector<int32_t> masked;
  std::vector<int32_t> allowed;  // grammar mask; empty: none
  bool ties = false;             // logits rounded to quarters: many ties
  bool expect_overflow = false;
};

RowCase row_case(const char* what) {
  RowCase c;
  c.what = what;
  return c;
}

// Stage 1 as the host sampler does it (cuda/src/sampling/logit_processing.cpp on the sampler branch).
std::vector<float> reference_stage1(const RowCase& c, std::vector<float> row) {
  const int vocab = static_cast<int>(row.size());
  for (const auto& [id, bias] : c.bias) row[id] += bias;
  const PrepRow& p = c.row;
  for (const auto& [id, output_count] : c.seen) {
    if (p.repetition_penalty == 1 && output_count == 0) continue;
    float v = row[id];
    if (p.repetition_penalty != 1) v = v > 0 ? v / p.repetition_penalty : v * p.repetition_penalty;
    if (output_count > 0) {
      volatile float f = p.frequency_penalty * static_cast<float>(output_count);  // no contraction
      v -= f;
      v -= p.presence_penalty;
    }
    row[id] = v;
  }
  for (int32_t id : c.masked)
    if (id < vocab) row[id] = -INFINITY;
  return row;
}

struct Reference {
  std::vector<int32_t> ids;
  bool complete = false;
  int universe = 0;
  double z = 0, raw_log_z = 0;
  std::vector<int32_t> raw_ids;
};

std::vector<int32_t> best(const std::vector<float>& row, const std::vector<bool>& ok, int count, float floor) {
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < static_cast<int32_t>(row.size()); i++)
    if (ok[i] && row[i] > -INFINITY) ids.push_back(i);
  std::sort(ids.begin(), ids.end(),
            [&](int32_t a, int32_t b) { return row[a] > row[b] || (row[a] == row[b] && a < b); });
  size_t n = std::min(ids.size(), static_cast<size_t>(count));
  while (n < ids.size() && row[ids[n]] >= floor) n++;
  ids.resize(n);
  return ids;
}

Reference reference_stage2(const RowCase& c, const std::vector<float>& processed, const std::vector<float>& raw) {
  const int vocab = static_cast<int>(processed.size());
  std::vector<bool> ok(vocab, c.allowed.empty());
  for (int32_t id : c.allowed) ok[id] = true;
  Reference r;
  r.universe = c.allowed.empty() ? vocab : static_cast<int>(c.allowed.size());
  const int count = std::min(std::max(c.row.count, 1), std::max(r.universe, 1));
  r.ids = best(processed, ok, count, c.row.floor);
  r.complete = static_cast<int>(r.ids.size()) < count || static_cast<int>(r.ids.size()) >= r.universe;
  if (!r.ids.empty() && c.row.normaliser) {
    const double max = processed[r.ids[0]];
    for (int32_t i = 0; i < vocab; i++)
      if (ok[i] && processed[i] > -INFINITY)
        r.z += std::exp((static_cast<double>(processed[i]) - max) / c.row.temperature);
  }
  if (c.row.raw_top >= 0) {
    r.raw_ids = best(raw, std::vector<bool>(vocab, true), std::max(c.row.raw_top, 1), INFINITY);
    const double max = raw[r.raw_ids[0]];
    double z = 0;
    for (float v : raw) z += std::exp(static_cast<double>(v) - max);
    r.raw_log_z = max + std::log(z);
  }
  return r;
}

void check_row(const RowCase& c, int vocab, const std::vector<float>& raw, const std::vector<float>& processed,
               const PrepCandidates& got) {
  const std::vector<float> want_processed = reference_stage1(c, raw);
  const bool same_row = std::memcmp(want_processed.data(), processed.data(), vocab * sizeof(float)) == 0;
  const std::string label = "sampling prep, vocab " + std::to_string(vocab) + ", " + c.what;
  if (c.expect_overflow) {
    expect(same_row && got.overflow == 1, label + ": processed row bit-identical, overflow reported");
    return;
  }
  const Reference r = reference_stage2(c, want_processed, raw);
  bool ok = same_row && got.overflow == 0 && got.n == static_cast<int>(r.ids.size()) &&
            (got.complete != 0) == r.complete && got.universe == r.universe;
  for (int j = 0; ok && j < got.n; j++)
    ok = got.top[j].id == r.ids[j] && got.top[j].logit == want_processed[r.ids[j]] &&
         got.top[j].raw_logit == raw[r.ids[j]];
  if (ok && c.row.normaliser && got.n > 0)
    ok = std::fabs(got.z - r.z) <= got.z_error + 1e-13 * r.z && got.z_error < 1e-9 * r.z;
  if (ok && c.row.raw_top >= 0) {
    ok = got.raw_n == static_cast<int>(r.raw_ids.size()) &&
         std::fabs(got.raw_log_z - r.raw_log_z) <= 1e-12 * std::fabs(r.raw_log_z) + 1e-12;
    for (int j = 0; ok && j < got.raw_n; j++)
      ok = got.raw_top[j].id == r.raw_ids[j] && got.raw_top[j].logit == raw[r.raw_ids[j]];
  }
  char detail[96];
  std::snprintf(detail, sizeof detail, " (%d candidates%s)", got.n, c.row.normaliser ? ", z within its bound" : "");
  expect(ok, label + detail);
}

std::vector<RowCase> cases(int vocab) {
  std::vector<RowCase> out;
  RowCase greedy = row_case("greedy");
  out.push_back(greedy);
  RowCase top64 = row_case("count 64, normaliser at T 0.7");
  top64.row.count = 64;
  top64.row.normaliser = true;
  top64.row.temperature = 0.7f;
  out.push_back(top64);
  RowCase edits = row_case("bias, penalties, min_tokens masks, raw top 5");
  edits.row.count = 20;
  edits.row.normaliser = true;
  edits.row.raw_top = 5;
  edits.row.repetition_penalty = 1.3f;
  edits.row.frequency_penalty = 0.5f;
  edits.row.presence_penalty = -0.25f;
  for (int32_t id = 3; id < vocab; id += vocab / 40) edits.bias.push_back({id, (id % 7) - 3.5f});
  for (int32_t id = 5; id < vocab; id += vocab / 50) edits.seen.push_back({id, id % 3});
  edits.masked = {1, 2, vocab - 1};
  out.push_back(edits);
  RowCase grammar = row_case("grammar mask of 37 ids");
  grammar.row.count = 8;
  grammar.row.normaliser = true;
  for (int32_t i = 0; i < 37; i++) grammar.allowed.push_back((i * 7919) % vocab);
  std::sort(grammar.allowed.begin(), grammar.allowed.end());
  grammar.allowed.erase(std::unique(grammar.allowed.begin(), grammar.allowed.end()), grammar.allowed.end());
  out.push_back(grammar);
  RowCase ties = row_case("ties at the cut (logits in quarters)");
  ties.row.count = 100;
  ties.ties = true;
  out.push_back(ties);
  RowCase floor = row_case("floor at the median: overflow");
  floor.row.floor = 0.0f;
  floor.expect_overflow = true;
  out.push_back(floor);
  RowCase wide = row_case("count above the device's capacity: overflow");
  wide.row.count = kPrepMaxCandidates + 1;
  wide.expect_overflow = true;
  out.push_back(wide);
  RowCase none = row_case("every id masked to -inf");
  none.masked.resize(vocab);
  std::iota(none.masked.begin(), none.masked.end(), 0);
  out.push_back(none);
  return out;
}

void test_vocab(int vocab) {
  const std::vector<RowCase> rows = cases(vocab);
  const int R = static_cast<int>(rows.size());
  std::vector<float> raw = randn(static_cast<size_t>(R) * vocab, 3.0f);
  std::vector<PrepRow> params;
  std::vector<int32_t> bias_ids, seen_ids, seen_counts, masked;
  std::vector<float> bias_values;
  std::vector<uint64_t> bits;
  for (int r = 0; r < R; r++) {
    const RowCase& c = rows[r];
    if (c.ties)
      for (int i = 0; i < vocab; i++) raw[r * vocab + i] = std::round(raw[r * vocab + i] * 4) / 4;
    PrepRow p = c.row;
    p.bias_begin = static_cast<int32_t>(bias_ids.size());
    for (const auto& [id, b] : c.bias) bias_ids.push_back(id), bias_values.push_back(b);
    p.bias_end = static_cast<int32_t>(bias_ids.size());
    p.seen_begin = static_cast<int32_t>(seen_ids.size());
    for (const auto& [id, n] : c.seen) seen_ids.push_back(id), seen_counts.push_back(n);
    p.seen_end = static_cast<int32_t>(seen_ids.size());
    p.masked_begin = static_cast<int32_t>(masked.size());
    masked.insert(masked.end(), c.masked.begin(), c.masked.end());
    p.masked_end = static_cast<int32_t>(masked.size());
    if (!c.allowed.empty()) {
      p.allowed_word = static_cast<int64_t>(bits.size());
      p.allowed_count = static_cast<int32_t>(c.allowed.size());
      bits.resize(bits.size() + (vocab + 63) / 64, 0);
      for (int32_t id : c.allowed) bits[p.allowed_word + id / 64] |= uint64_t{1} << (id % 64);
    }
    params.push_back(p);
  }
  Dev<float> d_raw(raw), d_processed(raw.size()), d_bias_values(bias_values);
  Dev<int32_t> d_bias_ids(bias_ids), d_seen_ids(seen_ids), d_seen_counts(seen_counts), d_masked(masked);
  Dev<uint64_t> d_bits(bits);
  Dev<PrepRow> d_rows(params);
  Dev<PrepCandidates> d_out(R);
  PrepInputs in{d_raw.p,      d_processed.p,   d_rows.p,   d_bias_ids.p, d_bias_values.p,
                d_seen_ids.p, d_seen_counts.p, d_masked.p, d_bits.p,     vocab};
  launch_sampling_prep(in, R, d_out.p, nullptr);
  const std::vector<float> processed = d_processed.get();
  const std::vector<PrepCandidates> got = d_out.get();
  for (int r = 0; r < R; r++)
    check_row(rows[r], vocab,
              std::vector<float>(raw.begin() + static_cast<size_t>(r) * vocab,
                                 raw.begin() + static_cast<size_t>(r + 1) * vocab),
              std::vector<float>(processed.begin() + static_cast<size_t>(r) * vocab,
                                 processed.begin() + static_cast<size_t>(r + 1) * vocab),
              got[r]);
}

}  // namespace

int main() {
  if (const int gate = gpu_test_gate("sampling_prep_test")) return gate;  // skips only without a GPU
  const uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  rng().seed(seed);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  test_vocab(151936);
  test_vocab(1001);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::printf(failures() ? "%d FAILED\n" : "all sampling prep tests passed\n", failures());
  return failures() ? 1 : 0;
}
