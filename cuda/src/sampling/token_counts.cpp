#include "token_counts.h"

#include "errors.h"

namespace tidepool {

void TokenCounts::reset(int32_t max_distinct) {
  uint32_t size = 16;
  while (size < 2u * static_cast<uint32_t>(max_distinct)) size <<= 1;
  slots_.assign(size, 0);
  mask_ = size - 1;
  entries_.clear();
  entries_.reserve(max_distinct);
}

TokenCounts::Entry& TokenCounts::entry(int32_t id) {
  uint32_t slot = (static_cast<uint32_t>(id) * 0x9E3779B1u) & mask_;
  while (slots_[slot] != 0) {
    Entry& e = entries_[slots_[slot] - 1];
    if (e.id == id) return e;
    slot = (slot + 1) & mask_;
  }
  // Past the reserved capacity the vector would reallocate: a sizing bug, not an input error.
  if (entries_.size() == entries_.capacity()) throw EngineError("internal", "token counts outgrew their reservation");
  entries_.push_back({id, 0, false});
  slots_[slot] = static_cast<int32_t>(entries_.size());
  return entries_.back();
}

}  // namespace tidepool
