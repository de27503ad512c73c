// Device-side address of one KV row in the paged pool; the same arithmetic as tidepool::KvLayout.
#pragma once

#include "common.cuh"

namespace tidepool::cuda {

// Row (pos, layer, kv) of token t's sequence, or null when its block table is too short.
__device__ __forceinline__ kv_t* kv_row(uint8_t* pool, const KvGeometry& g, const TokenTables& tt, int t, int pos,
                                        int layer, int kv) {
  const size_t row = (static_cast<size_t>(layer) * 2 + kv) * g.block_tokens + pos % g.block_tokens;
  const size_t index = static_cast<size_t>(pos / g.block_tokens) * g.pages_per_block + row / g.rows_per_page;
  if (index >= static_cast<size_t>(tt.n_pages[t])) return nullptr;
  const size_t page = static_cast<size_t>(tt.pages[tt.table_offset[t] + index]);
  return reinterpret_cast<kv_t*>(pool + page * g.page_bytes + (row % g.rows_per_page) * g.row_bytes);
}

}  // namespace tidepool::cuda
