// Stage 1: the processed row, in place on a sequence's raw row of `vocab` logits, in vLLM's order:
//   1. logit_bias: logit += bias;
//   2. repetition penalty over ids in the prompt or the output: logit > 0 ? logit / p : logit * p;
//   3. frequency penalty: logit -= frequency * (occurrences in the output);
//   4. presence penalty: logit -= presence (once, for ids the output holds);
//   5. masks: -inf for ids that may not come yet (stop and eos ids before min_tokens).
// Each step is float arithmetic on the float logit, in that order. The grammar's mask is not written
// into the row: stage 2 reads it beside the row (row_view.h), with the same meaning as -inf.
// Every edited id's raw value is appended to `edits` (first edit wins), so the raw row stays known for
// logprobs without a copy of the row.
#pragma once

#include <cstdint>
#include <vector>

#include "sampling_params.h"
#include "token_counts.h"

namespace tidepool {

struct LogitEdit {
  int32_t id;
  float raw;
  int32_t order;  // position in the log, so sorting keeps each id's first (raw) value
};

// Steps 1-4. `counts` may be unready when the params set no penalty.
void apply_logit_edits(const SamplingParams& params, const TokenCounts& counts, float* row, int32_t vocab,
                       std::vector<LogitEdit>& edits);

// Step 5 for a list of ids (ids outside the vocabulary are ignored).
void mask_ids(const std::vector<int32_t>& ids, float* row, int32_t vocab, std::vector<LogitEdit>& edits);

// The raw value of `id`: its first entry in `edits` (sorted by id when `sorted`), else row[id].
float raw_logit(const std::vector<LogitEdit>& edits, bool sorted, const float* row, int32_t id);

// Sorts edits by id keeping the first edit of each id; returns true (for the `sorted` flag).
bool sort_edits(std::vector<LogitEdit>& edits);

}  // namespace tidepool
