// CudaBackend::forward_hidden: the forward pass of one entry for an embedding function. The layers run over
// chunks exactly as forward runs them (each chunk writes its K/V before the next attends to it); instead of
// logits, every token's row of the final norm's output (v.h, which run_layers leaves in the activation
// dtype, backends/precision.h) is copied out and widened to f32 on the host.
#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <algorithm>
#include <cstring>

#include "../../src/model.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "forward_plan.h"

namespace tidepool::cuda {

namespace {

// out (n) f32 = in (n) stored as `act`.
void widen(const void* in, WeightType act, size_t n, float* out) {
  if (act == WeightType::F32) {
    std::memcpy(out, in, n * sizeof(float));
  } else if (act == WeightType::BF16) {
    const auto* b = static_cast<const __nv_bfloat16*>(in);
    for (size_t i = 0; i < n; i++) out[i] = __bfloat162float(b[i]);
  } else {
    const auto* h = static_cast<const __half*>(in);
    for (size_t i = 0; i < n; i++) out[i] = __half2float(h[i]);
  }
}

}  // namespace

void CudaBackend::forward_hidden(int slot_id, const BatchEntry& entry, float* hidden) {
  in_phase(
      [&] { return "embedding forward of " + slot_label(slot_id) + ", " + std::to_string(entry.n_tokens) + " tokens"; },
      [&] {
        CUDA_TRY(cudaSetDevice(device_));
        kept_rows_ = 0;  // the scratch is about to be overwritten
        const std::shared_ptr<Slot> slot = get_slot(slot_id);
        const Slot& s = *slot;
        const ModelConfig& c = s.model->config;
        int T = 0;
        std::vector<int> rows;
        upload_batch(s, {entry}, T, rows);
        if (T == 0) return;
        const ChunkViews v = chunk_views(c, s.act, s.chunk_tokens, activations_);
        const size_t H = static_cast<size_t>(c.hidden_size), a = weight_type_bytes(s.act);
        std::vector<uint8_t> staged(static_cast<size_t>(s.chunk_tokens) * H * a);  // (chunk, H) in act
        for (int t0 = 0; t0 < T; t0 += s.chunk_tokens) {
          const int n = std::min(s.chunk_tokens, T - t0);
          run_layers(s, v, t0, n);
          CUDA_TRY(cudaMemcpyAsync(staged.data(), v.h, n * H * a, cudaMemcpyDeviceToHost, compute_));
          CUDA_TRY(cudaStreamSynchronize(compute_));  // v.h is rewritten by the next chunk
          widen(staged.data(), s.act, n * H, hidden + static_cast<size_t>(t0) * H);
        }
      });
}

}  // namespace tidepool::cuda
