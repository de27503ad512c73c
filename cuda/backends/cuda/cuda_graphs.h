// Decode graphs: a pure decode step (one token per sequence, batch up to kMaxGraphBatch) is captured as a
// CUDA graph per (slot, batch size) on first use and replayed afterwards.
//
// A graph bakes in every device address the step touches (the slot's weights, the scratch views, the batch
// metadata at offsets fixed by the batch size, the KV pool) and every by-value kernel parameter (model
// dimensions, eps, dtypes). The backend sums those up as the slot's *geometry*. Graphs are kept across
// evictions and replayed after a reload into the same slot at the same address (same geometry); they are
// dropped only when a slot is reused with a different geometry.
//
// A failed capture or instantiation is not an error: that (slot, batch size) runs eagerly from then on,
// and the first such failure is logged. A device fault during capture (device_lost) still throws.
// Step thread only.
#pragma once

#include <cuda_runtime_api.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>

namespace tidepool::cuda {

struct GraphStats {
  int64_t captures = 0;         // graphs instantiated
  int64_t replays = 0;          // graph launches, the first one of each graph included
  int64_t eager_fallbacks = 0;  // (slot, batch size) pairs that failed to capture and run eagerly
  int64_t dropped = 0;          // graphs destroyed because their slot's geometry changed
  size_t held = 0;              // graphs held now
  size_t last_nodes = 0;        // nodes (kernels, memsets) of the last captured graph: launches per step
};

class DecodeGraphs {
 public:
  DecodeGraphs() = default;
  DecodeGraphs(const DecodeGraphs&) = delete;
  DecodeGraphs& operator=(const DecodeGraphs&) = delete;
  ~DecodeGraphs();

  // Launches the graph of (slot, batch) on `stream`, capturing it first by running `record` (which only
  // enqueues work on `stream`). False when this (slot, batch) runs eagerly; the caller then runs the step
  // itself. Errors of the launch itself throw EngineError.
  bool launch(int slot, uint64_t geometry, int batch, cudaStream_t stream, const std::function<void()>& record);
  GraphStats stats() const;

 private:
  // Null with `error` set when the capture or the instantiation failed.
  cudaGraphExec_t capture(cudaStream_t stream, const std::function<void()>& record, std::string& error);
  void drop_slot(int slot);

  std::map<std::pair<int, int>, cudaGraphExec_t> graphs_;  // (slot, batch) -> exec; null: runs eagerly
  std::map<int, uint64_t> geometry_;                       // slot -> geometry its graphs were captured for
  GraphStats stats_;
  bool failure_logged_ = false;
};

}  // namespace tidepool::cuda
