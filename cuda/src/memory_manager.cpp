#include "memory_manager.h"

#include <algorithm>

#include "errors.h"

namespace tidepool {

MemoryPlan make_memory_plan(size_t budget_bytes, size_t kv_budget_bytes, size_t kv_page_bytes) {
  MemoryPlan p;
  p.budget_bytes = budget_bytes;
  p.kv_page_bytes = kv_page_bytes;
  if (kv_budget_bytes == 0) kv_budget_bytes = budget_bytes / 4;
  p.kv_pages = kv_budget_bytes / kv_page_bytes;
  p.kv_bytes = p.kv_pages * kv_page_bytes;
  // Step activations are small next to weights; a sixteenth of the budget, at most 256 MiB.
  p.scratch_bytes = std::min<size_t>(budget_bytes / 16, size_t(256) << 20);
  if (p.kv_pages == 0) throw EngineError("bad_request", "KV budget is smaller than one KV page");
  if (p.kv_bytes + p.scratch_bytes > budget_bytes)
    throw EngineError("bad_request", "KV budget plus scratch exceeds the memory budget");
  return p;
}

bool MemoryManager::reserve_weights(const std::string& model, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (slots_.count(model)) return true;
  if (used_ + bytes > plan_.weights_arena_bytes()) return false;
  slots_[model] = bytes;
  used_ += bytes;
  return true;
}

size_t MemoryManager::release_weights(const std::string& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(model);
  if (it == slots_.end()) return 0;
  size_t bytes = it->second;
  used_ -= bytes;
  slots_.erase(it);
  return bytes;
}

size_t MemoryManager::weights_used() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return used_;
}

size_t MemoryManager::weights_of(const std::string& model) const {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = slots_.find(model);
  return it == slots_.end() ? 0 : it->second;
}

}  // namespace tidepool
