// Decode graphs: a pure decode batch (one token per sequence, up to kMaxGraphBatch) is captured as a CUDA
// graph per (slot, batch size) on first use and replayed afterwards; metadata lives at offsets that depend
// only on the batch size, so replays see the same addresses.
#include "../../src/errors.h"
#include "../../src/model.h"
#include "cuda_backend.h"
#include "cuda_check.h"
#include "forward_plan.h"

namespace tidepool::cuda {

bool CudaBackend::run_decode_graph(int slot_id, const Slot& s, const ChunkViews& v, int T, float* logits) {
  const auto key = std::make_pair(slot_id, T);
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    cudaGraph_t graph = nullptr;
    CUDA_TRY(cudaStreamBeginCapture(compute_, cudaStreamCaptureModeThreadLocal));
    try {
      run_layers(s, v, 0, T);
      run_logits(s, v, d_rows_, T);
    } catch (...) {
      cudaStreamEndCapture(compute_, &graph);
      if (graph) cudaGraphDestroy(graph);
      cudaGetLastError();
      throw;
    }
    CUDA_TRY(cudaStreamEndCapture(compute_, &graph));
    cudaGraphExec_t exec = nullptr;
    const cudaError_t err = cudaGraphInstantiate(&exec, graph, 0);
    cudaGraphDestroy(graph);
    if (err != cudaSuccess) {
      cudaGetLastError();
      return false;  // eager fallback
    }
    it = graphs_.emplace(key, exec).first;
  }
  CUDA_TRY(cudaGraphLaunch(it->second, compute_));
  CUDA_TRY(cudaMemcpyAsync(logits, v.logits, static_cast<size_t>(T) * s.model->config.vocab_size * sizeof(float),
                           cudaMemcpyDeviceToHost, compute_));
  return true;
}

}  // namespace tidepool::cuda
