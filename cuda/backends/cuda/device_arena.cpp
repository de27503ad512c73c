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

// Compares addresses as integers: p may be null or lie outside the arena (no pointer arithmetic on it).
bool DeviceArena::offset_of(const uint8_t* p, size_t& offset) const {
  const uintptr_t at = reinterpret_cast<uintptr_t>(p), base = reinterpret_cast<uintptr_t>(base_);
  if (!p || !base_ || at < base || at - base >= capacity_) return false;
  offset = at - base;
  return true;
}

size_t DeviceArena::round_up(size_t bytes) { return bytes == 0 ? kAlign : (bytes + kAlign - 1) / kAlign * kAlign; }

// Carves [offset, offset + bytes) out of the free run `run`, which contains it.
void DeviceArena::take(std::map<size_t, size_t>::iterator run, size_t offset, size_t bytes) {
  const size_t run_start = run->first, run_end = run->first + run->second;
  free_.erase(run);
  if (offset > run_start) free_[run_start] = offset - run_start;
  if (offset + bytes < run_end) free_[offset + bytes] = run_end - offset - bytes;
  used_[offset] = bytes;
}

uint8_t* DeviceArena::allocate(size_t bytes) {
  bytes = round_up(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < bytes) continue;
    const size_t offset = it->first;
    take(it, offset, bytes);
    return base_ + offset;
  }
  return nullptr;
}

bool DeviceArena::allocate_at(uint8_t* at, size_t bytes) {
  bytes = round_up(bytes);
  std::lock_guard<std::mutex> lock(mutex_);
  size_t offset = 0;
  if (!offset_of(at, offset) || offset % kAlign != 0) return false;
  auto run = free_.upper_bound(offset);  // the first run after offset; the one before may contain it
  if (run == free_.begin()) return false;
  --run;
  if (run->first + run->second < offset + bytes) return false;
  take(run, offset, bytes);
  return true;
}

void DeviceArena::release(uint8_t* p) {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t at = 0;
  if (!offset_of(p, at)) return;
  auto it = used_.find(at);
  if (it == used_.end()) return;
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
