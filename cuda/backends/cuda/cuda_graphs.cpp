#include "cuda_graphs.h"

#include <cstdio>

#include "../../src/errors.h"
#include "../../src/model.h"
#include "cuda_backend.h"
#include "cuda_check.h"

namespace tidepool::cuda {

namespace {

// A failed capture step: a device fault propagates (device_lost); anything else is cleared and reported.
std::string capture_error(const char* what, cudaError_t err) {
  if (is_sticky_cuda_error(err)) throw_cuda_error(__FILE__, __LINE__, what, err);
  cudaGetLastError();
  return std::string(what) + ": " + cudaGetErrorName(err);
}

}  // namespace

DecodeGraphs::~DecodeGraphs() {
  for (auto& [key, exec] : graphs_)
    if (exec) cudaGraphExecDestroy(exec);
}

cudaGraphExec_t DecodeGraphs::capture(cudaStream_t stream, const std::function<void()>& record, std::string& error) {
  cudaError_t err = cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal);
  if (err != cudaSuccess) {
    error = capture_error("cudaStreamBeginCapture", err);
    return nullptr;
  }
  cudaGraph_t graph = nullptr;
  auto abandon = [&] {  // leaves capture mode whatever happened inside
    cudaStreamEndCapture(stream, &graph);
    if (graph) cudaGraphDestroy(graph);
    cudaGetLastError();
  };
  try {
    record();
  } catch (const EngineError& e) {
    abandon();
    if (e.code() == kDeviceLost) throw;
    error = std::string("recording the step: ") + e.what();
    return nullptr;
  } catch (...) {
    abandon();
    throw;
  }
  err = cudaStreamEndCapture(stream, &graph);
  if (err != cudaSuccess) {
    if (graph) cudaGraphDestroy(graph);
    error = capture_error("cudaStreamEndCapture", err);
    return nullptr;
  }
  size_t nodes = 0;
  if (cudaGraphGetNodes(graph, nullptr, &nodes) == cudaSuccess) stats_.last_nodes = nodes;
  cudaGraphExec_t exec = nullptr;
  err = cudaGraphInstantiate(&exec, graph, 0);
  cudaGraphDestroy(graph);
  if (err != cudaSuccess) {
    error = capture_error("cudaGraphInstantiate", err);
    return nullptr;
  }
  return exec;
}

void DecodeGraphs::drop_slot(int slot) {
  for (auto it = graphs_.lower_bound({slot, 0}); it != graphs_.end() && it->first.first == slot;) {
    if (it->second) {
      cudaGraphExecDestroy(it->second);  // an exec still in flight is freed when it completes
      stats_.dropped++;
    }
    it = graphs_.erase(it);
  }
}

bool DecodeGraphs::launch(int slot, uint64_t geometry, int batch, cudaStream_t stream,
                          const std::function<void()>& record) {
  auto home = geometry_.find(slot);
  if (home == geometry_.end() || home->second != geometry) {
    drop_slot(slot);
    geometry_[slot] = geometry;
  }
  const auto key = std::make_pair(slot, batch);
  auto it = graphs_.find(key);
  if (it == graphs_.end()) {
    std::string error;
    cudaGraphExec_t exec = capture(stream, record, error);
    if (exec) {
      stats_.captures++;
    } else {
      stats_.eager_fallbacks++;
      if (!failure_logged_) {
        std::fprintf(stderr,
                     "tidepool-engine: warning: decode graph for slot %d, batch %d: %s; that batch size runs "
                     "eagerly (later failures are counted in the graph stats only)\n",
                     slot, batch, error.c_str());
        failure_logged_ = true;
      }
    }
    it = graphs_.emplace(key, exec).first;
  }
  if (!it->second) return false;
  CUDA_TRY(cudaGraphLaunch(it->second, stream));
  stats_.replays++;
  return true;
}

GraphStats DecodeGraphs::stats() const {
  GraphStats s = stats_;
  s.held = 0;
  for (const auto& [key, exec] : graphs_) s.held += exec ? 1 : 0;
  return s;
}

}  // namespace tidepool::cuda

// ---- the backend's decode step through it ----

namespace tidepool::cuda {

bool CudaBackend::run_decode_graph(int slot_id, const Slot& s, const ChunkViews& v, int T, float* logits) {
  const bool launched = graphs_.launch(slot_id, s.geometry, T, compute_, [&] {
    run_layers(s, v, 0, T);
    run_logits(s, v, d_rows_, T, v.logits);
  });
  if (!launched) return false;
  if (logits)  // else the rows stay on the device (forward_prepared)
    CUDA_TRY(cudaMemcpyAsync(logits, v.logits, static_cast<size_t>(T) * s.model->config.vocab_size * sizeof(float),
                             cudaMemcpyDeviceToHost, compute_));
  return true;
}

}  // namespace tidepool::cuda
