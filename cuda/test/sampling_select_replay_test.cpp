// Host replay of the device candidate selection (kernels/sampling_prep.cu, select_best), runnable without
// a GPU: the radix select over order keys, the gathering rule (above the cut or at/above the floor; ties at
// the cut), the tie completion and the 64-bit entry order, with the kernel's own key functions
// (sampling_select.h), against a full sort by (logit descending, id ascending) on random rows: heavy ties,
// -inf entries, signed zeros, masks, floors, counts 1..256.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

#include "../kernels/sampling_select.h"
#include "test_support.h"

using namespace tidepool::cuda;
using namespace tidepool::cuda::sampling_select;

namespace {

// The kernel's select_best, serially: ids in order, or {-1} on overflow.
std::vector<int32_t> replay_select(const std::vector<float>& row, const std::vector<bool>& ok, int count, float floor) {
  const int vocab = static_cast<int>(row.size());
  uint32_t prefix = 0, mask = 0, kth = 0;
  int remaining = count, total = 0;
  bool all = false;
  for (int shift = 24; shift >= 0 && !all; shift -= 8) {
    int hist[256] = {};
    for (int i = 0; i < vocab; i++) {
      if (!ok[i] || !(row[i] > -INFINITY)) continue;
      const uint32_t k = order_key(row[i]);
      if ((k & mask) == prefix) hist[(k >> shift) & 255]++;
    }
    if (shift == 24) total = histogram_total(hist);
    int left = 0;
    const int digit = radix_digit(hist, remaining, left);
    if (total <= count) {
      all = true;
      break;
    }
    prefix |= static_cast<uint32_t>(digit) << shift;
    mask |= 0xFFu << shift;
    remaining = left;
  }
  kth = all ? 0 : prefix;
  std::vector<uint64_t> above;
  std::vector<int32_t> ties;
  for (int i = 0; i < vocab; i++) {
    if (!ok[i] || !(row[i] > -INFINITY)) continue;
    const uint32_t k = order_key(row[i]);
    if (k > kth || row[i] >= floor) above.push_back(entry_key(k, i));
    else if (k == kth) ties.push_back(i);
  }
  const int n_above = static_cast<int>(above.size()), need = total > count ? std::max(0, count - n_above) : 0;
  if (n_above + need > kPrepMaxCandidates || (need > 0 && static_cast<int>(ties.size()) > kPrepMaxCandidates))
    return {-1};
  if (need > 0)
    for (int32_t id : ties) above.push_back(entry_key(kth, id));
  std::sort(above.begin(), above.end(), [](uint64_t a, uint64_t b) { return a > b; });
  std::vector<int32_t> ids;
  for (int j = 0; j < n_above + need; j++) ids.push_back(entry_id(above[j]));
  return ids;
}

std::vector<int32_t> sorted_best(const std::vector<float>& row, const std::vector<bool>& ok, int count, float floor) {
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

}  // namespace

int main() {
  std::mt19937_64 rng(5);
  for (float a : {-3.5f, -0.0f, 0.0f, 1e-30f, 2.0f, INFINITY})
    CHECK(order_key(std::nextafter(a, -INFINITY)) < order_key(a));
  int checked = 0, overflows = 0, bad = 0;
  for (int trial = 0; trial < 300; trial++) {
    const int vocab = 1 + static_cast<int>(rng() % 5000);
    std::normal_distribution<float> d(0, 3);
    const int quantum = static_cast<int>(rng() % 4);  // 0: continuous; else rounded: heavy ties
    std::vector<float> row(vocab);
    std::vector<bool> ok(vocab, true);
    for (int i = 0; i < vocab; i++) {
      row[i] = quantum ? std::round(d(rng) * quantum) / quantum : d(rng);
      if (rng() % 17 == 0) row[i] = -INFINITY;
      if (rng() % 23 == 0) row[i] = (rng() % 2) ? 0.0f : -0.0f;
      if (trial % 3 == 0 && rng() % 5 == 0) ok[i] = false;
    }
    const int count = 1 + static_cast<int>(rng() % kPrepMaxCandidates);
    const float floor = trial % 4 == 0 ? d(rng) + 6 : INFINITY;
    const std::vector<int32_t> got = replay_select(row, ok, count, floor), want = sorted_best(row, ok, count, floor);
    if (got.size() == 1 && got[0] == -1) {  // overflow: only when the answer, or the ties at its cut, do not fit
      overflows++;
      bool legit = want.size() > static_cast<size_t>(kPrepMaxCandidates);
      if (!legit && !want.empty()) {
        const float cut = row[want[std::min(want.size(), static_cast<size_t>(count)) - 1]];
        int ties = 0;
        for (int i = 0; i < vocab; i++) ties += ok[i] && row[i] == cut;
        legit = ties > kPrepMaxCandidates;
      }
      bad += legit ? 0 : 1;
      continue;
    }
    checked++;
    if (got != want) {
      bad++;
      std::printf("mismatch: vocab %d count %d floor %g quantum %d: %zu vs %zu ids\n", vocab, count, floor, quantum,
                  got.size(), want.size());
    }
  }
  std::printf(
      "selection replay: %d rows identical to a full sort, %d overflows (answer too large for the device), %d bad\n",
      checked, overflows, bad);
  CHECK(bad == 0 && checked > 200);
  std::printf("PASS\n");
  return 0;
}
