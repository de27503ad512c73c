// Key arithmetic of the device candidate selection (sampling_prep.cu), in plain C++ so the host replay
// (test/sampling_select_replay_test.cpp) runs the same functions: floats as ordered keys, entries sorted
// by one 64-bit compare, and the radix digit walk that narrows down the count-th best key.
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__CUDACC__)
#define TP_SELECT_FN __host__ __device__ inline
#else
#define TP_SELECT_FN inline
#endif

namespace tidepool::cuda {

constexpr int kPrepMaxCandidates = 256;  // candidates (and ties at the cut) one row answers on the device
constexpr int kPrepMaxRawTop = 32;       // raw-row entries for logprobs

}  // namespace tidepool::cuda

namespace tidepool::cuda::sampling_select {

// Monotone map of floats (NaN aside) to unsigned keys: larger float, larger key. -0 and +0 compare
// equal, so they share a key and their ids break the tie, as in the host's order.
TP_SELECT_FN uint32_t order_key(float v) {
  if (v == 0.0f) v = 0.0f;
  uint32_t b;
  std::memcpy(&b, &v, 4);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
// One descending compare orders entries by value descending, then id ascending.
TP_SELECT_FN uint64_t entry_key(uint32_t key, int32_t id) {
  return (static_cast<uint64_t>(key) << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(id));
}
TP_SELECT_FN int32_t entry_id(uint64_t e) { return static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(e)); }

TP_SELECT_FN int histogram_total(const int* hist) {
  int total = 0;
  for (int i = 0; i < 256; i++) total += hist[i];
  return total;
}
// The digit (bin, from the top) holding the `remaining`-th best of the entries counted in hist, and how
// many entries of that bin are still needed (`left`). When fewer than `remaining` are counted, bin 0.
TP_SELECT_FN int radix_digit(const int* hist, int remaining, int& left) {
  int cum = 0, b = 255;
  for (; b > 0 && cum + hist[b] < remaining; b--) cum += hist[b];
  left = remaining - cum;
  return b;
}

}  // namespace tidepool::cuda::sampling_select
