// Weight paging: copies a model's tensors from its safetensors mappings (in /dev/shm) into a device slot.
// The mapped range of each file is pinned with cudaHostRegister (read-only) so the copy engine reads it
// directly at PCIe rate; when registration fails, pages go through a ring of two pinned staging buffers.
// Pinning costs far more than a copy (the kernel locks every page), so a mapping is pinned once, when it
// is prepared, and stays pinned across evictions until the mapping itself goes (unpin).
// Copies are issued in large pieces on a dedicated copy stream, so they overlap compute on the step
// thread's stream. Every load measures its fixed overhead: the wall time that is not the copy itself.
#pragma once

#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

#include "../../src/model.h"

namespace tidepool::cuda {

struct LoadStats {
  size_t bytes = 0;          // bytes copied host -> device
  double total_ms = 0;       // load_slot wall time
  double copy_ms = 0;        // first copy issued .. last copy done (device events)
  double pin_ms = 0;         // cudaHostRegister done by this load (0 when the mapping was prepared before)
  double fixed_ms = 0;       // total - copy: planning, pinning, allocation, synchronization
  bool pinned = false;       // false: went through the staging ring
  int copies = 0;            // cudaMemcpyAsync calls
  double gbps() const { return copy_ms > 0 ? bytes / copy_ms / 1e6 : 0; }
};

// Where each weight tensor lands inside a slot, and the copies that put it there.
struct WeightPlan {
  struct Copy {
    const uint8_t* src = nullptr;
    size_t dst_offset = 0;
    size_t bytes = 0;
  };
  size_t bytes = 0;                                  // slot size
  std::vector<Copy> copies;                          // whole-file spans when alignment allows, else per tensor
  std::map<const TensorView*, size_t> offsets;       // tensor -> byte offset in the slot
  std::vector<std::pair<uint8_t*, size_t>> ranges;   // page-aligned host ranges to pin
};

WeightPlan plan_weights(const Model& model);

class WeightPager {
 public:
  static constexpr size_t kPieceBytes = size_t(64) << 20;  // one cudaMemcpyAsync

  void init();  // creates the copy stream, events and the staging ring; once, at startup
  ~WeightPager();
  // Pins the model's mapped ranges unless they already are (or pinning is off or fails: then loads use
  // the staging ring). Returns the milliseconds spent pinning now.
  double pin(const Model& model, const WeightPlan& plan);
  void unpin(const Model& model);
  // Copies the plan into `dst` and waits for it; pins first if `pin` was not called for this model.
  LoadStats load(const Model& model, const WeightPlan& plan, uint8_t* dst);
  size_t pinned_bytes() const;
  cudaStream_t stream() const { return stream_; }

 private:
  struct Pinned {
    std::vector<uint8_t*> ranges;  // registered starts; empty when registration failed (staging ring)
    size_t bytes = 0;
  };
  double pin_locked(const Model& model, const WeightPlan& plan);
  void copy_staged(const WeightPlan::Copy& c, uint8_t* dst, int& copies);

  mutable std::mutex mutex_;  // one load or pin at a time
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  uint8_t* ring_[2] = {nullptr, nullptr};  // (kPieceBytes) pinned staging buffers
  cudaEvent_t ring_free_[2] = {nullptr, nullptr};
  std::map<const Model*, Pinned> pinned_;  // every model pin() has seen, pinned or not
};

}  // namespace tidepool::cuda
