#include "logit_processing.h"

#include <algorithm>
#include <limits>

namespace tidepool {

void apply_logit_edits(const SamplingParams& p, const TokenCounts& counts, float* row, int32_t vocab,
                       std::vector<LogitEdit>& edits) {
  for (const auto& [id, bias] : p.logit_bias) {
    if (id < 0 || id >= vocab) continue;  // checked at add; a padded vocabulary may be smaller
    edits.push_back({id, row[id], static_cast<int32_t>(edits.size())});
    row[id] += bias;
  }
  if (!p.penalizes() || !counts.ready()) return;
  for (const TokenCounts::Entry& e : counts.entries()) {
    if (e.id < 0 || e.id >= vocab || (p.repetition_penalty == 1 && e.output_count == 0)) continue;
    edits.push_back({e.id, row[e.id], static_cast<int32_t>(edits.size())});
    float v = row[e.id];
    if (p.repetition_penalty != 1) v = v > 0 ? v / p.repetition_penalty : v * p.repetition_penalty;
    if (e.output_count > 0) {
      v -= p.frequency_penalty * static_cast<float>(e.output_count);
      v -= p.presence_penalty;
    }
    row[e.id] = v;
  }
}

void mask_ids(const std::vector<int32_t>& ids, float* row, int32_t vocab, std::vector<LogitEdit>& edits) {
  for (int32_t id : ids) {
    if (id < 0 || id >= vocab) continue;
    edits.push_back({id, row[id], static_cast<int32_t>(edits.size())});
    row[id] = -std::numeric_limits<float>::infinity();
  }
}

bool sort_edits(std::vector<LogitEdit>& edits) {
  // std::sort, not stable_sort: that one allocates a buffer, and this runs once per token
  std::sort(edits.begin(), edits.end(),
            [](const LogitEdit& a, const LogitEdit& b) { return a.id < b.id || (a.id == b.id && a.order < b.order); });
  edits.erase(
      std::unique(edits.begin(), edits.end(), [](const LogitEdit& a, const LogitEdit& b) { return a.id == b.id; }),
      edits.end());
  return true;
}

float raw_logit(const std::vector<LogitEdit>& edits, bool sorted, const float* row, int32_t id) {
  if (sorted) {
    auto it = std::lower_bound(edits.begin(), edits.end(), id, [](const LogitEdit& e, int32_t v) { return e.id < v; });
    return it != edits.end() && it->id == id ? it->raw : row[id];
  }
  for (const LogitEdit& e : edits)
    if (e.id == id) return e.raw;
  return row[id];
}

}  // namespace tidepool
