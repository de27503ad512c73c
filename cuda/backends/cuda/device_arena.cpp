#include "device_arena.h"

namespace tidepool::cuda {

void DeviceArena::reset(uint8_t* base, size_t bytes) {
  std::lock_guard<std::mutex> lock(mutex_);
  base_ = base;
  capacity_ = bytes / kAlign * kAlign;
  free_.clear();
  used_.clear();
  if (capacity_ > 0) free_[0] = capacity_;
}

uint8_t* DeviceArena::allocate(size_t bytes) {
  bytes = (bytes + kAlign - 1) / kAlign * kAlign;
  if (bytes == 0) bytes = kAlign;
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < bytes) continue;
    const size_t offset = it->first, rest = it->second - bytes;
    free_.erase(it);
    if (rest > 0) free_[offset + bytes] = rest;
    used_[offset] = bytes;
    return base_ + offset;
  }
  return nullptr;
}

void DeviceArena::release(uint8_t* p) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = used_.find(static_cast<size_t>(p - base_));
  if (!p || it == used_.end()) return;
  size_t offset = it->first, bytes = it->second;
  used_.erase(it);
  auto next = free_.lower_bound(offset);
  if (next != free_.end() && offset + bytes == next->first) {  // merge with the following run
    bytes += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {  // merge with the preceding run
    auto prev = std::prev(next);
    if (prev->first + prev->second == offset) {
      prev->second += bytes;
      return;
    }
  }
  free_[offset] = bytes;
}

size_t DeviceArena::used() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t total = 0;
  for (const auto& [offset, bytes] : used_) total += bytes;
  return total;
}

size_t DeviceArena::largest_free() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t best = 0;
  for (const auto& [offset, bytes] : free_) best = bytes > best ? bytes : best;
  return best;
}

bool DeviceArena::check_integrity() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::map<size_t, size_t> all = free_;
  size_t total = 0;
  for (const auto& [offset, bytes] : used_) {
    if (!all.emplace(offset, bytes).second) return false;
  }
  size_t end = 0;
  for (const auto& [offset, bytes] : all) {
    if (offset < end) return false;
    end = offset + bytes;
    total += bytes;
  }
  return total == capacity_;
}

}  // namespace tidepool::cuda
