// The engine's memory budget, sized and split once at startup (memory_plan.h):
//   weights arena = budget - kv pool - scratch, accounted per model slot;
//   kv pool       = kv_budget bytes of fixed-size pages (the block manager hands them out);
//   scratch       = activations for one step.
// Thread-safe: the loader thread reserves weights while the step thread runs.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <string>

#include "memory_plan.h"

namespace tidepool {

class MemoryManager {
 public:
  explicit MemoryManager(const MemoryPlan& plan) : plan_(plan) {}

  const MemoryPlan& plan() const { return plan_; }
  // Reserves `bytes` of the weights arena for a model; false when the arena has no room.
  bool reserve_weights(const std::string& model, size_t bytes);
  size_t release_weights(const std::string& model);  // returns the bytes released
  size_t weights_used() const;
  size_t weights_of(const std::string& model) const;

 private:
  const MemoryPlan plan_;
  mutable std::mutex mutex_;
  std::map<std::string, size_t> slots_;  // model key -> bytes
  size_t used_ = 0;
};

}  // namespace tidepool
