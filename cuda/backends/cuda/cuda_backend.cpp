// CudaBackend: the device, the one reservation, host mappings, forward's entry point and KV park/restore.
// Model slots live in cuda_slots.cpp, the layer loop in cuda_forward.cpp, decode graphs in cuda_graphs.cpp.
#include "cuda_backend.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../../src/errors.h"
#include "../../src/model.h"
#include "cuda_check.h"
#include "cuda_device.h"
#include "forward_plan.h"

namespace tidepool::cuda {

namespace {

constexpr size_t kParkStagingBytes = size_t(64) << 20;  // pinned host buffer for KV park/restore
constexpr double kDefaultMemoryFraction = 0.90;         // of the device memory free at start

size_t align256(size_t v) { return (v + 255) / 256 * 256; }

double memory_fraction() {
  const char* v = std::getenv("TIDEPOOL_CUDA_MEMORY_FRACTION");
  if (!v || !*v) return kDefaultMemoryFraction;
  char* end = nullptr;
  const double f = std::strtod(v, &end);
  if (*end || !(f > 0 && f <= 1))
    throw EngineError("bad_request", std::string("TIDEPOOL_CUDA_MEMORY_FRACTION must be in (0, 1], got ") + v);
  return f;
}

}  // namespace

CudaBackend::CudaBackend(const BackendOptions& options) : device_(options.device) {
  const CudaProbe probe = probe_cuda();
  if (probe.absent()) throw EngineError("unsupported", probe.message + " (try --backend cpu)");
  if (probe.state != CudaProbe::State::Ready) throw EngineError("unsupported", probe.message);
  if (device_ < 0 || device_ >= probe.devices)
    throw EngineError("bad_request", "CUDA device " + std::to_string(device_) + " does not exist (" +
                                         std::to_string(probe.devices) + " found)");
  CUDA_TRY(cudaSetDevice(device_));
  cudaDeviceProp prop{};
  CUDA_TRY(cudaGetDeviceProperties(&prop, device_));
  if (prop.major < 8) throw EngineError("unsupported", std::string(prop.name) + " is older than sm_80");
  device_name_ = prop.name;
  CUDA_TRY(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
  CUDA_TRY(cudaEventCreate(&ev_stop_));
  pager_.init(device_);
  const char* inject = std::getenv("TIDEPOOL_CUDA_INJECT_FAULT");
  inject_forward_fault_ = inject && std::string(inject) == "forward";
  if (inject_forward_fault_)
    std::fprintf(stderr,
                 "tidepool-engine: TIDEPOOL_CUDA_INJECT_FAULT=forward: every forward reads an unmapped device address "
                 "(a test of the device_lost path)\n");
  const char* sampling = std::getenv("TIDEPOOL_CUDA_SAMPLING");
  device_sampling_ = !(sampling && std::string(sampling) == "host");
  if (!device_sampling_)
    std::fprintf(stderr,
                 "tidepool-engine: TIDEPOOL_CUDA_SAMPLING=host: logit rows are copied back and sampled on the host\n");
  if (sync_launches()) {
    graphs_enabled_ = false;  // a synchronisation inside a capture would invalidate it
    std::fprintf(stderr,
                 "tidepool-engine: TIDEPOOL_CUDA_SYNC_LAUNCHES is set: every kernel launch synchronises, decode graphs "
                 "are off\n");
  }
}

CudaBackend::~CudaBackend() {
  if (compute_) cudaStreamSynchronize(compute_);
  if (reservation_) cudaFree(reservation_);
  if (meta_host_) cudaFreeHost(meta_host_);
  if (park_host_) cudaFreeHost(park_host_);
  if (ev_stop_) cudaEventDestroy(ev_stop_);
  if (compute_) cudaStreamDestroy(compute_);
}

MemorySource CudaBackend::memory_source() const {
  CUDA_TRY(cudaSetDevice(device_));
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  MemorySource s;
  s.name = device_name_ + " (device " + std::to_string(device_) + ")";
  s.device = true;
  s.available_bytes = free_bytes;
  s.default_fraction = memory_fraction();
  return s;
}

void CudaBackend::init_kv_pool(size_t num_pages, size_t page_bytes) {
  MemoryRequest r;
  r.kv_budget_bytes = num_pages * page_bytes;
  r.kv_page_bytes = page_bytes;
  init_memory(plan_memory(r, memory_source()));
}

// The one reservation: exactly plan.budget_bytes, so the engine's weights accounting and the arena agree.
void CudaBackend::init_memory(const MemoryPlan& plan) {
  CUDA_TRY(cudaSetDevice(device_));
  if (reservation_) throw EngineError("internal", "device memory already reserved");
  if (plan.kv_page_bytes % 256 != 0 || plan.scratch_bytes % 256 != 0)
    throw EngineError("bad_request", "KV page and scratch bytes must be multiples of 256");
  num_pages_ = plan.kv_pages;
  page_bytes_ = plan.kv_page_bytes;
  scratch_bytes_ = plan.scratch_bytes;
  reserved_bytes_ = align256(plan.budget_bytes);
  // Batch metadata: 5 ints per token (token, pos, table offset, table length, logit row) + every page id.
  meta_ints_ = 5 * kMaxBatchTokens + num_pages_ + 64;
  if (align256(meta_ints_ * 4) * 2 > scratch_bytes_)
    throw EngineError("bad_request",
                      "scratch of " + std::to_string(scratch_bytes_) + " bytes is too small for the batch metadata (" +
                          std::to_string(meta_ints_ * 4) + " bytes); raise --scratch-bytes or the memory budget");
  cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&reservation_), reserved_bytes_);  // the one reservation
  if (err != cudaSuccess) {
    if (is_sticky_cuda_error(err)) throw_cuda_error(__FILE__, __LINE__, "cudaMalloc", err);
    cudaGetLastError();
    reservation_ = nullptr;
    throw EngineError("out_of_memory", "cannot reserve " + std::to_string(reserved_bytes_) + " bytes on " +
                                           device_name_ + ": " + cudaGetErrorName(err));
  }
  kv_pool_ = reservation_;
  scratch_ = reservation_ + align256(num_pages_ * page_bytes_);
  meta_dev_ = reinterpret_cast<int32_t*>(scratch_);
  activations_ = scratch_ + align256(meta_ints_ * 4);
  activation_bytes_ = scratch_bytes_ - align256(meta_ints_ * 4);
  uint8_t* arena = scratch_ + scratch_bytes_;
  arena_.reset(arena, reserved_bytes_ - static_cast<size_t>(arena - reservation_));
  CUDA_TRY(cudaHostAlloc(reinterpret_cast<void**>(&meta_host_), meta_ints_ * 4, cudaHostAllocDefault));
  CUDA_TRY(cudaHostAlloc(reinterpret_cast<void**>(&park_host_), kParkStagingBytes, cudaHostAllocDefault));
  std::fprintf(stderr, "cuda: %s: reserved %.2f GiB = KV %.2f GiB + scratch %.0f MiB + weights arena %.2f GiB\n",
               device_name_.c_str(), reserved_bytes_ / 1073741824.0, num_pages_ * page_bytes_ / 1073741824.0,
               scratch_bytes_ / 1048576.0, arena_.capacity() / 1073741824.0);
}

void CudaBackend::prepare_host(const Model& model) {
  in_phase([&] { return "pinning the mapping of " + model.dir; },
           [&] {
             CUDA_TRY(cudaSetDevice(device_));
             const double ms = pager_.pin(model, plan_weights(model));
             if (ms > 0) std::fprintf(stderr, "cuda: pinned %s in %.1f ms\n", model.dir.c_str(), ms);
           });
}

void CudaBackend::release_host(const Model& model) {
  in_phase([&] { return "unpinning the mapping of " + model.dir; },
           [&] {
             CUDA_TRY(cudaSetDevice(device_));
             pager_.unpin(model);
           });
}

std::string CudaBackend::forward_label(int slot_id, const std::vector<BatchEntry>& batch) const {
  int tokens = 0;
  for (const BatchEntry& e : batch) tokens += e.n_tokens;
  const bool decode = tokens == static_cast<int>(batch.size());
  return "forward of " + slot_label(slot_id) + ", " +
         (decode ? "decode step of " + std::to_string(tokens) + " sequences"
                 : "step of " + std::to_string(tokens) + " tokens in " + std::to_string(batch.size()) + " sequences");
}

void CudaBackend::forward(int slot_id, const std::vector<BatchEntry>& batch, float* logits) {
  in_phase([&] { return forward_label(slot_id, batch); },
           [&] {
             if (inject_forward_fault_) {  // a kernel reads its page ids from address 64: an illegal address, sticky
               launch_gather_pages(kv_pool_, reinterpret_cast<const int32_t*>(uintptr_t{64}), 1, page_bytes_,
                                   activations_, compute_);
             }
             kept_rows_ = 0;  // the scratch is about to be overwritten
             forward_batch(slot_id, batch, logits);
           });
}

BackendMemory CudaBackend::memory() const {
  const MemoryStats m = memory_stats();
  BackendMemory b;
  b.device_reserved_bytes = m.reserved_bytes;
  b.device_weights_bytes = m.arena_bytes;
  b.device_weights_used_bytes = m.arena_used_bytes;
  b.device_weights_largest_free_bytes = m.arena_largest_free_bytes;
  b.host_pinned_bytes = pager_.pinned_bytes();
  b.host_staged_bytes = pager_.staged_bytes();
  return b;
}

// Park (host_out) or restore (host_in) whole pages, in pieces that fit the pinned staging buffer.
void CudaBackend::move_pages(const std::vector<int32_t>& pages, uint8_t* host_out, const uint8_t* host_in) {
  CUDA_TRY(cudaSetDevice(device_));
  for (int32_t p : pages)
    if (p < 0 || static_cast<size_t>(p) >= num_pages_) throw EngineError("internal", "page id out of range");
  const size_t per_piece = std::min(kParkStagingBytes, activation_bytes_) / page_bytes_;
  if (per_piece == 0) throw EngineError("internal", "KV page larger than the park staging buffer");
  CUDA_TRY(cudaStreamSynchronize(compute_));  // meta_host_ is free to rewrite
  for (size_t first = 0; first < pages.size(); first += per_piece) {
    const int n = static_cast<int>(std::min(per_piece, pages.size() - first));
    const size_t bytes = static_cast<size_t>(n) * page_bytes_;
    std::memcpy(meta_host_, pages.data() + first, n * sizeof(int32_t));
    CUDA_TRY(cudaMemcpyAsync(meta_dev_, meta_host_, n * sizeof(int32_t), cudaMemcpyHostToDevice, compute_));
    if (host_out) {
      launch_gather_pages(kv_pool_, meta_dev_, n, page_bytes_, activations_, compute_);
      CUDA_TRY(cudaMemcpyAsync(park_host_, activations_, bytes, cudaMemcpyDeviceToHost, compute_));
      CUDA_TRY(cudaEventRecord(ev_stop_, compute_));
      CUDA_TRY(cudaEventSynchronize(ev_stop_));
      std::memcpy(host_out + first * page_bytes_, park_host_, bytes);
    } else {
      std::memcpy(park_host_, host_in + first * page_bytes_, bytes);
      CUDA_TRY(cudaMemcpyAsync(activations_, park_host_, bytes, cudaMemcpyHostToDevice, compute_));
      launch_scatter_pages(activations_, meta_dev_, n, page_bytes_, kv_pool_, compute_);
      CUDA_TRY(cudaEventRecord(ev_stop_, compute_));
      CUDA_TRY(cudaEventSynchronize(ev_stop_));  // park_host_ and meta_host_ are reused by the next piece
    }
  }
}

void CudaBackend::kv_to_host(const std::vector<int32_t>& pages, uint8_t* host) {
  in_phase([&] { return "parking " + std::to_string(pages.size()) + " KV pages"; },
           [&] { move_pages(pages, host, nullptr); });
}

void CudaBackend::kv_from_host(const std::vector<int32_t>& pages, const uint8_t* host) {
  in_phase([&] { return "restoring " + std::to_string(pages.size()) + " KV pages"; },
           [&] { move_pages(pages, nullptr, host); });
}

MemoryStats CudaBackend::memory_stats() const {
  MemoryStats m;
  m.reserved_bytes = reserved_bytes_;
  m.kv_bytes = num_pages_ * page_bytes_;
  m.scratch_bytes = scratch_bytes_;
  m.arena_bytes = arena_.capacity();
  m.arena_used_bytes = arena_.used();
  m.arena_largest_free_bytes = arena_.largest_free();
  std::lock_guard<std::mutex> lock(slots_mutex_);
  for (const auto& s : slots_) m.slots += s ? 1 : 0;
  return m;
}

LoadStats CudaBackend::last_load() const {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  return last_load_;
}

}  // namespace tidepool::cuda

namespace tidepool {
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options) {
  return std::make_unique<cuda::CudaBackend>(options);
}
}  // namespace tidepool
