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
  void release(uint8_t* p);
  size_t capacity() const { return capacity_; }
  size_t used() const;
  size_t largest_free() const;
  bool check_integrity() const;  // free + used == capacity, no overlaps

 private:
  mutable std::mutex mutex_;
  uint8_t* base_ = nullptr;
  size_t capacity_ = 0;
  std::map<size_t, size_t> free_;  // offset -> bytes
  std::map<size_t, size_t> used_;  // offset -> bytes
};

}  // namespace tidepool::cuda
