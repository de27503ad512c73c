// CudaBackend::forward_hidden: the forward pass of one entry for an embedding function. The layers run over
// chunks exactly as forward runs them (each chunk writes its K/V before the next attends to it); instead of
// logits, every token's row of the residual stream is final-normed, kLogitRows at a time, and copied out.
#include <algorithm>

#include "../../src/model.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "forward_plan.h"

namespace tidepool::cuda {

void CudaBackend::forward_hidden(int slot_id, const BatchEntry& entry, float* hidden) {
  CUDA_TRY(cudaSetDevice(device_));
  const std::shared_ptr<Slot> slot = get_slot(slot_id);
  const Slot& s = *slot;
  const ModelConfig& c = s.model->config;
  BatchEntry every = entry;
  every.all_logits = true;  // upload_batch then lists every token as a row
  int T = 0;
  std::vector<int> rows;
  upload_batch(s, {every}, T, rows);
  if (T == 0) return;
  const ChunkViews v = chunk_views(c, s.chunk_tokens, activations_);
  const size_t H = static_cast<size_t>(c.hidden_size);
  const float eps = static_cast<float>(c.rms_norm_eps);
  int r = 0;  // next row; rows are the tokens 0..T-1 in order
  for (int t0 = 0; t0 < T; t0 += s.chunk_tokens) {
    const int n = std::min(s.chunk_tokens, T - t0);
    run_layers(s, v, t0, n);
    for (; r < t0 + n; r += kLogitRows) {
      const int R = std::min(kLogitRows, t0 + n - r);
      // hidden rows (R, H) of this group; v.rows holds kLogitRows rows
      launch_rmsnorm(v.x, d_rows_ + r, R, c.hidden_size, s.final_norm.data, s.final_norm.type, eps, v.rows, compute_);
      CUDA_TRY(cudaMemcpyAsync(hidden + static_cast<size_t>(r) * H, v.rows, static_cast<size_t>(R) * H * sizeof(float),
                               cudaMemcpyDeviceToHost, compute_));
      CUDA_TRY(cudaStreamSynchronize(compute_));  // v.rows is reused by the next group
    }
  }
}

}  // namespace tidepool::cuda
