// Weight paging: copies a model's tensors from its safetensors mappings (in /dev/shm) into a device slot.
// The mapped range of each file is pinned with cudaHostRegister (read-only) so the copy engine reads it
// directly at PCIe rate; where the device cannot register host memory (queried once at init), or
// registration fails, or TIDEPOOL_CUDA_NO_PIN=1, pieces go through a ring of two pinned staging buffers at
// a fraction of that rate. That fallback is loud: a warning line per mapping, `host_staged_bytes` in the
// protocol's stats and the reason in each load's LoadStats.
// Pinning costs far more than a copy (the kernel locks every page), so a mapping is pinned once, when it
// is prepared, and stays pinned across evictions until the mapping itself goes (unpin). Pins are keyed by
// the mapping's id (Model::mapping_id, never reused), not by the Model's address.
// Locking: the state mutex guards only the pin table and is never held through registration or a copy,
// so stats on the step thread never wait for a load; copies take the copy mutex (one at a time: they share
// the staging ring and the timing events). Copies run on the pager's own stream.
#pragma once

#include <cuda_runtime_api.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "../../src/model.h"

namespace tidepool::cuda {

struct LoadStats {
  size_t bytes = 0;            // bytes copied host -> device
  double total_ms = 0;         // load_slot wall time
  double copy_ms = 0;          // first copy issued .. last copy done (device events)
  double pin_ms = 0;           // cudaHostRegister done by this load (0 when the mapping was prepared before)
  double fixed_ms = 0;         // total - copy: planning, pinning, allocation, synchronization
  bool pinned = false;         // false: went through the staging ring
  std::string staging_reason;  // why not pinned ("" when pinned)
  bool per_tensor = false;     // copied tensor by tensor (unaligned file) rather than one span per file
  int copies = 0;              // cudaMemcpyAsync calls
  double gbps() const { return copy_ms > 0 ? bytes / copy_ms / 1e6 : 0; }
};

// Where each weight tensor lands inside a slot, and the copies that put it there.
struct WeightPlan {
  struct Copy {
    const uint8_t* src = nullptr;
    size_t dst_offset = 0;
    size_t bytes = 0;
  };
  size_t bytes = 0;                                 // slot size
  bool per_tensor = false;                          // some tensor is not 16-byte aligned in its mapping
  std::vector<Copy> copies;                         // whole-file spans when alignment allows, else per tensor
  std::map<const TensorView*, size_t> offsets;      // tensor -> byte offset in the slot
  std::vector<std::pair<uint8_t*, size_t>> ranges;  // page-aligned host ranges to pin
};

WeightPlan plan_weights(const Model& model);

// What the device can do with host memory, queried once.
struct HostRegistration {
  bool supported = false;            // cudaDevAttrHostRegisterSupported
  bool read_only_supported = false;  // cudaDevAttrHostRegisterReadOnlySupported (our mappings are read-only)
  bool disabled = false;             // TIDEPOOL_CUDA_NO_PIN
  // "" when mappings can be pinned, else why every load goes through the staging ring.
  std::string unavailable_reason() const;
};

class WeightPager {
 public:
  static constexpr size_t kPieceBytes = size_t(64) << 20;  // one cudaMemcpyAsync

  void init(int device);  // the copy stream, events, staging ring and the registration query; at startup
  ~WeightPager();
  // Pins the model's mapped ranges unless they already are (or cannot be: then its loads use the staging
  // ring, with a warning). Waits for a pin of the same mapping under way on another thread. Returns the
  // milliseconds spent pinning now.
  double pin(const Model& model, const WeightPlan& plan);
  void unpin(const Model& model);
  // Copies the plan into `dst` and waits for it; pins first if `pin` was not called for this mapping.
  LoadStats load(const Model& model, const WeightPlan& plan, uint8_t* dst);
  // Never block: read by the protocol's stats on the step thread.
  size_t pinned_bytes() const { return pinned_bytes_.load(); }
  size_t staged_bytes() const { return staged_bytes_.load(); }
  const HostRegistration& registration() const { return registration_; }
  // Off: mappings pinned from now on go through the staging ring, as with TIDEPOOL_CUDA_NO_PIN (the
  // benchmark measures the ring this way). Call between loads; pins already made stay.
  void set_pinning(bool on) { registration_.disabled = !on; }
  cudaStream_t stream() const { return stream_; }

 private:
  struct Pin {
    bool done = false;             // false while another thread registers it
    std::vector<uint8_t*> ranges;  // registered starts; empty when the mapping goes through the ring
    size_t bytes = 0;              // mapped bytes of the ranges (pinned or staged)
    std::string staging_reason;    // "" when pinned
  };
  Pin register_ranges(const Model& model, const WeightPlan& plan) const;
  void copy_staged(const WeightPlan::Copy& c, uint8_t* dst, int& copies);

  HostRegistration registration_;
  std::mutex state_mutex_;          // pins_ only; never held through registration or a copy
  std::condition_variable pinned_;  // a pin finished
  std::map<uint64_t, Pin> pins_;    // mapping id -> its pin (or why it has none)
  std::atomic<size_t> pinned_bytes_{0}, staged_bytes_{0};
  std::mutex copy_mutex_;  // one copy at a time: the ring and the events are shared
  cudaStream_t stream_ = nullptr;
  cudaEvent_t start_ = nullptr, stop_ = nullptr;
  uint8_t* ring_[2] = {nullptr, nullptr};  // (kPieceBytes) pinned staging buffers
  cudaEvent_t ring_free_[2] = {nullptr, nullptr};
};

}  // namespace tidepool::cuda
