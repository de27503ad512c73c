// A first-fit allocator over one region of the engine's single device reservation (the weights arena).
// Model slots are carved out of it and returned to it; nothing here calls cudaMalloc or cudaFree.
// Blocks are 256-byte aligned; freed neighbours coalesce. Thread-safe (the loader thread allocates while
// the step thread frees).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>

namespace tidepool::cuda {

class DeviceArena {
 public:
  static constexpr size_t kAlign = 256;

  void reset(uint8_t* base, size_t bytes);
  uint8_t* allocate(size_t bytes);  // null when no free run is large enough
  // Exactly at `at` (a slot's previous home, so its decode graphs stay valid); false when that range is
  // not entirely free.
  bool allocate_at(uint8_t* at, size_t bytes);
  void release(uint8_t* p);  // p from allocate/allocate_at; null and unknown pointers are ignored
  size_t capacity() const { return capacity_; }
  size_t used() const;
  size_t largest_free() const;
  bool check_integrity() const;  // free + used == capacity, no overlaps

 private:
  static size_t round_up(size_t bytes);
  bool offset_of(const uint8_t* p, size_t& offset) const;  // false for null or outside the arena
  void take(std::map<size_t, size_t>::iterator run, size_t offset, size_t bytes);  // mutex_ held

  mutable std::mutex mutex_;
  uint8_t* base_ = nullptr;
  size_t capacity_ = 0;
  std::map<size_t, size_t> free_;  // offset -> bytes
  std::map<size_t, size_t> used_;  // offset -> bytes
};

}  // namespace tidepool::cuda
