#include "weight_pager.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>

#include "cuda_check.h"
#include "device_arena.h"

namespace tidepool::cuda {

namespace {

void collect(const TensorView* t, std::set<const TensorView*>& used) {
  if (t) used.insert(t);
}

std::set<const TensorView*> used_tensors(const Model& m) {
  std::set<const TensorView*> used;
  collect(m.embed, used);
  collect(m.final_norm, used);
  collect(m.lm_head, used);
  for (const LayerWeights& w : m.layers) {
    for (const TensorView* t : {w.input_norm, w.q, w.k, w.v, w.q_bias, w.k_bias, w.v_bias, w.o, w.post_norm, w.gate, w.up, w.down})
      collect(t, used);
  }
  return used;
}

size_t align_up(size_t v, size_t a) { return (v + a - 1) / a * a; }

}  // namespace

WeightPlan plan_weights(const Model& model) {
  const std::set<const TensorView*> used = used_tensors(model);
  const uintptr_t page = static_cast<uintptr_t>(::sysconf(_SC_PAGESIZE));
  bool aligned = true;
  for (const TensorView* t : used) aligned = aligned && reinterpret_cast<uintptr_t>(t->data) % 16 == 0;
  WeightPlan plan;
  for (const auto& file : model.files) {
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    std::vector<const TensorView*> mine;
    for (const TensorView& t : file->tensors()) {
      if (!used.count(&t)) continue;
      mine.push_back(&t);
      lo = std::min(lo, reinterpret_cast<uintptr_t>(t.data));
      hi = std::max(hi, reinterpret_cast<uintptr_t>(t.data) + t.bytes);
    }
    if (mine.empty()) continue;
    // The mapping starts on a page and ends on its last page, so rounding outward stays inside it.
    const uintptr_t start = lo / page * page, end = align_up(hi, page);
    plan.ranges.push_back({reinterpret_cast<uint8_t*>(start), end - start});
    if (aligned) {  // one span per file: the slot mirrors the file, so tensors keep their 16-byte alignment
      const size_t base = align_up(plan.bytes, DeviceArena::kAlign);
      plan.copies.push_back({reinterpret_cast<const uint8_t*>(lo), base + (lo - start), hi - lo});
      for (const TensorView* t : mine) plan.offsets[t] = base + (reinterpret_cast<uintptr_t>(t->data) - start);
      plan.bytes = base + (hi - start);
    } else {  // per tensor, each placed on a 256-byte boundary
      for (const TensorView* t : mine) {
        const size_t at = align_up(plan.bytes, DeviceArena::kAlign);
        plan.copies.push_back({t->data, at, t->bytes});
        plan.offsets[t] = at;
        plan.bytes = at + t->bytes;
      }
    }
  }
  plan.bytes = align_up(plan.bytes, DeviceArena::kAlign);
  return plan;
}

void WeightPager::init() {
  CUDA_TRY(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
  CUDA_TRY(cudaEventCreate(&start_));
  CUDA_TRY(cudaEventCreate(&stop_));
  for (int i = 0; i < 2; i++) {
    CUDA_TRY(cudaHostAlloc(reinterpret_cast<void**>(&ring_[i]), kPieceBytes, cudaHostAllocDefault));
    CUDA_TRY(cudaEventCreateWithFlags(&ring_free_[i], cudaEventDisableTiming));
  }
}

WeightPager::~WeightPager() {
  if (stream_) cudaStreamSynchronize(stream_);
  for (auto& [model, pinned] : pinned_)
    for (uint8_t* p : pinned.ranges) cudaHostUnregister(p);
  for (int i = 0; i < 2; i++) {
    if (ring_[i]) cudaFreeHost(ring_[i]);
    if (ring_free_[i]) cudaEventDestroy(ring_free_[i]);
  }
  if (start_) cudaEventDestroy(start_);
  if (stop_) cudaEventDestroy(stop_);
  if (stream_) cudaStreamDestroy(stream_);
}

double WeightPager::pin(const Model& model, const WeightPlan& plan) {
  std::lock_guard<std::mutex> lock(mutex_);
  return pin_locked(model, plan);
}

double WeightPager::pin_locked(const Model& model, const WeightPlan& plan) {
  if (pinned_.count(&model)) return 0;
  const auto t0 = std::chrono::steady_clock::now();
  Pinned pinned;
  if (!std::getenv("TIDEPOOL_CUDA_NO_PIN")) {  // the variable forces the staging ring (benchmark comparison)
    for (const auto& [ptr, bytes] : plan.ranges) {
      if (cudaHostRegister(ptr, bytes, cudaHostRegisterPortable | cudaHostRegisterReadOnly) != cudaSuccess) {
        cudaGetLastError();  // clear the error; the whole model goes through the staging ring
        for (uint8_t* p : pinned.ranges) cudaHostUnregister(p);
        pinned = Pinned{};
        break;
      }
      pinned.ranges.push_back(ptr);
      pinned.bytes += bytes;
    }
  }
  pinned_[&model] = std::move(pinned);
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

void WeightPager::unpin(const Model& model) {
  std::lock_guard<std::mutex> lock(mutex_);
  auto it = pinned_.find(&model);
  if (it == pinned_.end()) return;
  for (uint8_t* p : it->second.ranges) cudaHostUnregister(p);
  pinned_.erase(it);
}

size_t WeightPager::pinned_bytes() const {
  std::lock_guard<std::mutex> lock(mutex_);
  size_t bytes = 0;
  for (const auto& [model, pinned] : pinned_) bytes += pinned.bytes;
  return bytes;
}

void WeightPager::copy_staged(const WeightPlan::Copy& c, uint8_t* dst, int& copies) {
  for (size_t off = 0; off < c.bytes; off += kPieceBytes) {
    const int b = copies % 2;
    const size_t n = std::min(kPieceBytes, c.bytes - off);
    CUDA_TRY(cudaEventSynchronize(ring_free_[b]));  // the DMA that last read this buffer is done
    std::memcpy(ring_[b], c.src + off, n);
    CUDA_TRY(cudaMemcpyAsync(dst + c.dst_offset + off, ring_[b], n, cudaMemcpyHostToDevice, stream_));
    CUDA_TRY(cudaEventRecord(ring_free_[b], stream_));
    copies++;
  }
}

LoadStats WeightPager::load(const Model& model, const WeightPlan& plan, uint8_t* dst) {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto t0 = std::chrono::steady_clock::now();
  LoadStats st;
  st.pin_ms = pin_locked(model, plan);
  st.pinned = !pinned_.at(&model).ranges.empty();
  CUDA_TRY(cudaEventRecord(start_, stream_));
  for (const WeightPlan::Copy& c : plan.copies) {
    st.bytes += c.bytes;
    if (!st.pinned) {
      copy_staged(c, dst, st.copies);
      continue;
    }
    for (size_t off = 0; off < c.bytes; off += kPieceBytes, st.copies++)
      CUDA_TRY(cudaMemcpyAsync(dst + c.dst_offset + off, c.src + off, std::min(kPieceBytes, c.bytes - off),
                               cudaMemcpyHostToDevice, stream_));
  }
  CUDA_TRY(cudaEventRecord(stop_, stream_));
  CUDA_TRY(cudaEventSynchronize(stop_));
  float ms = 0;
  CUDA_TRY(cudaEventElapsedTime(&ms, start_, stop_));
  st.copy_ms = ms;
  st.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  st.fixed_ms = std::max(0.0, st.total_ms - st.copy_ms);
  return st;
}

}  // namespace tidepool::cuda
