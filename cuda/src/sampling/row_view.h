// One sequence's row of logits as stage 2 sees it: `vocab` floats and, under a grammar, the mask of ids
// that may come next (ids outside it count as -inf without being written).
#pragma once

#include <cstdint>

#include "token_mask.h"

namespace tidepool {

struct RowView {
  const float* logits = nullptr;  // (vocab)
  int32_t vocab = 0;
  const TokenMask* mask = nullptr;  // null: every id
};

}  // namespace tidepool
