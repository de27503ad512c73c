// How the engine's memory budget is sized and split, as a pure function of what was asked for and what the
// backend's memory holds (unit-tested on the CPU in test_memory_plan):
//
//   budget = --memory-budget-bytes, else
//            device backend: fraction (0.90) of the device memory free at start, never host RAM;
//            host backend:   half of physical memory.
//   budget = KV pool + scratch + weights arena
//     KV pool  = --kv-budget-bytes (else a quarter of the budget), whole pages
//     scratch  = --scratch-bytes (else a sixteenth of the budget, at most kMaxDefaultScratchBytes)
//     weights  = the rest
//
// On a device the budget is the one reservation: the KV pool, scratch and the weights arena all live in it,
// so the weights the engine admits always fit the device. A budget larger than the device's free memory is
// refused at startup (out_of_memory) instead of failing on the first load.
#pragma once

#include <cstddef>
#include <string>

namespace tidepool {

constexpr size_t kMaxDefaultScratchBytes = size_t(512) << 20;

struct MemoryPlan {
  size_t budget_bytes = 0;
  size_t kv_bytes = 0;       // kv_pages * kv_page_bytes
  size_t scratch_bytes = 0;  // a multiple of 256
  size_t kv_page_bytes = 0;
  size_t kv_pages = 0;
  size_t weights_arena_bytes() const { return budget_bytes - kv_bytes - scratch_bytes; }
};

// What the engine was asked for; 0 means "choose".
struct MemoryRequest {
  size_t budget_bytes = 0;
  size_t kv_budget_bytes = 0;
  size_t scratch_bytes = 0;
  size_t kv_page_bytes = 64 << 10;
};

// Where the budget comes from, as the backend reports it.
struct MemorySource {
  std::string name;             // "host memory", "NVIDIA H100 80GB HBM3", ... for messages
  bool device = false;          // a device backend: the budget is reserved from `available_bytes`
  size_t available_bytes = 0;   // device: free at start; host: physical memory (0: unknown)
  double default_fraction = 0;  // share of available_bytes taken when no budget is given
};

// Throws EngineError: bad_request when the parts do not fit the budget (naming them), out_of_memory when a
// device budget exceeds the device's free memory.
MemoryPlan plan_memory(const MemoryRequest& request, const MemorySource& source);

// Physical memory of this host, for host backends.
MemorySource host_memory_source();

std::string describe_plan(const MemoryPlan& plan, const MemorySource& source);  // one log line

}  // namespace tidepool
