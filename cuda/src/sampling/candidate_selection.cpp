// Threshold selection: scan the row once in id order, keep entries above the current k-th best in a
// buffer, and when the buffer fills keep its best `count` and raise the threshold to the k-th of them.
// Because ids arrive in increasing order, an entry equal to the threshold ranks below every kept entry
// of that value, so the strict comparison keeps the lowest-id tie-break exact. On a row in random order
// the buffer is compacted O(log(vocab / count)) times; the scan itself is a vector compare per 16 ids.
#include "candidate_selection.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#define TIDEPOOL_X86 1
#endif

namespace tidepool {

namespace {

uint32_t ordered_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}

float from_ordered_bits(uint32_t o) {
  const uint32_t b = (o & 0x80000000u) ? (o & 0x7FFFFFFFu) : ~o;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}

// -0 and +0 are equal logits, so they get one key (the id then breaks the tie).
uint64_t key_of(int32_t id, float logit) {
  if (logit == 0) logit = 0.0f;
  return (uint64_t{ordered_bits(logit)} << 32) | (0xFFFFFFFFu - static_cast<uint32_t>(id));
}
float logit_of(uint64_t key) { return from_ordered_bits(static_cast<uint32_t>(key >> 32)); }
int32_t id_of(uint64_t key) { return static_cast<int32_t>(0xFFFFFFFFu - static_cast<uint32_t>(key)); }

// From index i on, the first block of 16 with an entry above t: its start, and in `lanes` bit j set for
// each entry j above t. Returns the largest multiple of 16 <= n when no block qualifies (lanes = 0).
int32_t next_block_above(const float* l, int32_t i, int32_t n, float t, uint32_t& lanes) {
#ifdef TIDEPOOL_X86
  const __m128 vt = _mm_set1_ps(t);
  for (; i + 16 <= n; i += 16) {
    const uint32_t a = _mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(l + i), vt));
    const uint32_t b = _mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(l + i + 4), vt));
    const uint32_t c = _mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(l + i + 8), vt));
    const uint32_t d = _mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(l + i + 12), vt));
    lanes = a | (b << 4) | (c << 8) | (d << 12);
    if (lanes) return i;
  }
#else
  for (; i + 16 <= n; i += 16) {
    lanes = 0;
    for (int32_t j = 0; j < 16; j++) lanes |= static_cast<uint32_t>(l[i + j] > t) << j;
    if (lanes) return i;
  }
#endif
  lanes = 0;
  return i;
}

}  // namespace

// Keeps the best count_ entries and every entry >= floor_; raises the threshold accordingly. When the
// floor alone keeps more than fills the buffer, the buffer grows (once per size; it is reused).
void CandidateSelector::compact() {
  const uint64_t floor_key = uint64_t{ordered_bits(floor_)} << 32;  // the lowest key at the floor
  auto at_floor = std::partition(buffer_.begin(), buffer_.end(), [&](uint64_t k) { return k >= floor_key; });
  const int32_t floored = static_cast<int32_t>(at_floor - buffer_.begin());
  if (floored >= count_) {
    buffer_.erase(at_floor, buffer_.end());
    threshold_ = std::nextafter(floor_, -std::numeric_limits<float>::infinity());
    if (buffer_.size() * 2 > capacity_) capacity_ *= 2;
    return;
  }
  if (static_cast<int32_t>(buffer_.size()) <= count_) return;
  // The count_ best (floored entries are among them) to the front, unordered; entries tied with the
  // threshold behind them have higher ids, so they are rightly dropped.
  std::nth_element(buffer_.begin(), buffer_.begin() + (count_ - 1), buffer_.end(), std::greater<uint64_t>());
  threshold_ = logit_of(buffer_[count_ - 1]);
  buffer_.resize(count_);
}

void CandidateSelector::push(int32_t id, float logit) {
  buffer_.push_back(key_of(id, logit));
  if (buffer_.size() >= capacity_) compact();
}

// One pass over the row in id order, pushing each unmasked entry above the (rising) threshold.
void CandidateSelector::scan(const RowView& row) {
  const float* l = row.logits;
  const TokenMask* mask = row.mask;
  if (mask && mask->listed) {
    for (int32_t id : mask->ids)
      if (l[id] > threshold_) push(id, l[id]);
    return;
  }
  const int32_t n = row.vocab;
  uint32_t lanes = 0;
  int32_t i = 0;
  for (; (i = next_block_above(l, i, n, threshold_, lanes)) + 16 <= n; i += 16)
    for (; lanes; lanes &= lanes - 1) {  // only the entries the compare flagged; the threshold may rise meanwhile
      const int32_t j = i + __builtin_ctz(lanes);
      if (l[j] > threshold_ && (!mask || mask->allows(j))) push(j, l[j]);
    }
  for (; i < n; i++)  // the tail past the last full block
    if (l[i] > threshold_ && (!mask || mask->allows(i))) push(i, l[i]);
}

bool CandidateSelector::select(const RowView& row, int32_t count, float floor, std::vector<Candidate>& out) {
  count = std::max(count, 1);
  const int32_t universe = row.mask ? row.mask->count : row.vocab;
  count = std::min(count, std::max(universe, 1));
  count_ = count;
  floor_ = floor;
  capacity_ = std::max<size_t>(4 * static_cast<size_t>(count), 256);
  buffer_.clear();
  buffer_.reserve(capacity_);
  // With a floor, entries below it matter only when fewer than `count` lie above it: start there, and
  // scan again without it in that (rare) case.
  const float none = -std::numeric_limits<float>::infinity();
  threshold_ = std::isfinite(floor) ? std::nextafter(floor, none) : none;
  scan(row);
  if (threshold_ != none && static_cast<int32_t>(buffer_.size()) < count) {
    buffer_.clear();
    threshold_ = none;
    scan(row);
  }
  compact();
  std::sort(buffer_.begin(), buffer_.end(), std::greater<uint64_t>());
  out.resize(buffer_.size());
  for (size_t i = 0; i < buffer_.size(); i++) {
    const float logit = logit_of(buffer_[i]);
    out[i] = {id_of(buffer_[i]), logit, logit};
  }
  return static_cast<int32_t>(out.size()) < count || static_cast<int32_t>(out.size()) >= universe;
}

}  // namespace tidepool
