#include "weight_pager.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>

#include "../../src/errors.h"
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
    for (const TensorView* t :
         {w.input_norm, w.q, w.k, w.v, w.q_bias, w.k_bias, w.v_bias, w.o, w.post_norm, w.gate, w.up, w.down})
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
  plan.per_tensor = !aligned;
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

std::string HostRegistration::unavailable_reason() const {
  if (disabled) return "TIDEPOOL_CUDA_NO_PIN is set";
  if (!supported) return "the device cannot register host memory (cudaDevAttrHostRegisterSupported is 0)";
  if (!read_only_supported)
    return "the device cannot register read-only host memory (cudaDevAttrHostRegisterReadOnlySupported is 0)";
  return "";
}

void WeightPager::init(int device) {
  int supported = 0, read_only = 0;
  CUDA_TRY(cudaDeviceGetAttribute(&supported, cudaDevAttrHostRegisterSupported, device));
  CUDA_TRY(cudaDeviceGetAttribute(&read_only, cudaDevAttrHostRegisterReadOnlySupported, device));
  registration_.supported = supported != 0;
  registration_.read_only_supported = read_only != 0;
  const char* no_pin = std::getenv("TIDEPOOL_CUDA_NO_PIN");
  registration_.disabled = no_pin && *no_pin && std::string(no_pin) != "0";
  const std::string reason = registration_.unavailable_reason();
  if (!reason.empty())
    std::fprintf(stderr,
                 "tidepool-engine: warning: model loads go through the staging ring at a fraction of PCIe rate: %s\n",
                 reason.c_str());
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
  for (auto& [id, pin] : pins_)
    for (uint8_t* p : pin.ranges) cudaHostUnregister(p);
  for (int i = 0; i < 2; i++) {
    if (ring_[i]) cudaFreeHost(ring_[i]);
    if (ring_free_[i]) cudaEventDestroy(ring_free_[i]);
  }
  if (start_) cudaEventDestroy(start_);
  if (stop_) cudaEventDestroy(stop_);
  if (stream_) cudaStreamDestroy(stream_);
}

// Registers every range of the mapping, or none: a model is either copied by DMA from its mapping or
// entirely through the ring. Runs without the state mutex (it takes seconds for a large model).
WeightPager::Pin WeightPager::register_ranges(const Model& model, const WeightPlan& plan) const {
  Pin pin;
  pin.done = true;
  for (const auto& [ptr, bytes] : plan.ranges) pin.bytes += bytes;
  pin.staging_reason = registration_.unavailable_reason();
  if (!pin.staging_reason.empty()) return pin;
  for (const auto& [ptr, bytes] : plan.ranges) {
    const cudaError_t err = cudaHostRegister(ptr, bytes, cudaHostRegisterPortable | cudaHostRegisterReadOnly);
    if (err != cudaSuccess) {
      if (is_sticky_cuda_error(err)) {  // an earlier device fault, not a registration problem
        for (uint8_t* p : pin.ranges) cudaHostUnregister(p);
        throw_cuda_error(__FILE__, __LINE__, "cudaHostRegister", err);
      }
      cudaGetLastError();  // a registration error is not sticky; clear it so the next call does not see it
      for (uint8_t* p : pin.ranges) cudaHostUnregister(p);
      pin.ranges.clear();
      pin.staging_reason =
          std::string("cudaHostRegister failed: ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
      std::fprintf(
          stderr,
          "tidepool-engine: warning: %s: %s; its loads go through the staging ring at a fraction of PCIe rate\n",
          model.dir.c_str(), pin.staging_reason.c_str());
      return pin;
    }
    pin.ranges.push_back(ptr);
  }
  return pin;
}

double WeightPager::pin(const Model& model, const WeightPlan& plan) {
  {
    std::unique_lock<std::mutex> lock(state_mutex_);
    auto it = pins_.find(model.mapping_id);
    if (it != pins_.end()) {
      pinned_.wait(lock, [&] { return pins_.count(model.mapping_id) == 0 || pins_.at(model.mapping_id).done; });
      if (pins_.count(model.mapping_id)) return 0;
    }
    pins_[model.mapping_id] = Pin{};  // not done: another pin of this mapping waits for this one
  }
  const auto t0 = std::chrono::steady_clock::now();
  Pin pin;
  try {
    pin = register_ranges(model, plan);
  } catch (...) {
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      pins_.erase(model.mapping_id);  // a waiter for this pin registers it itself, or fails the same way
    }
    pinned_.notify_all();
    throw;
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  (pin.ranges.empty() ? staged_bytes_ : pinned_bytes_) += pin.bytes;
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    pins_[model.mapping_id] = std::move(pin);
  }
  pinned_.notify_all();
  return ms;
}

void WeightPager::unpin(const Model& model) {
  Pin pin;
  {
    std::unique_lock<std::mutex> lock(state_mutex_);
    pinned_.wait(lock, [&] { return pins_.count(model.mapping_id) == 0 || pins_.at(model.mapping_id).done; });
    auto it = pins_.find(model.mapping_id);
    if (it == pins_.end()) return;
    pin = std::move(it->second);
    pins_.erase(it);
  }
  (pin.ranges.empty() ? staged_bytes_ : pinned_bytes_) -= pin.bytes;
  for (uint8_t* p : pin.ranges) cudaHostUnregister(p);
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
  const auto t0 = std::chrono::steady_clock::now();
  LoadStats st;
  st.pin_ms = pin(model, plan);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    auto it = pins_.find(model.mapping_id);
    if (it == pins_.end())
      throw EngineError("internal", "the mapping of " + model.dir + " was released during its load");
    st.pinned = !it->second.ranges.empty();
    st.staging_reason = it->second.staging_reason;
  }
  st.per_tensor = plan.per_tensor;
  std::lock_guard<std::mutex> copying(copy_mutex_);
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
