#include "memory_manager.h"

namespace tidepool {

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
