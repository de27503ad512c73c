// CudaBackend: the one reservation, model slots over the weights arena, and KV park/restore.
// The forward pass and decode graphs live in cuda_forward.cpp.
#include "cuda_backend.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../../src/errors.h"
#include "../../src/model.h"
#include "cuda_check.h"
#include "forward_plan.h"

namespace tidepool::cuda {

namespace {

constexpr size_t kParkStagingBytes = size_t(64) << 20;  // pinned host buffer for KV park/restore

size_t env_bytes(const char* name, size_t fallback) {
  const char* v = std::getenv(name);
  return v && *v ? static_cast<size_t>(std::strtoull(v, nullptr, 10)) : fallback;
}

size_t align256(size_t v) { return (v + 255) / 256 * 256; }

DeviceTensor view(const WeightPlan& plan, uint8_t* base, const TensorView* t) {
  DeviceTensor d;
  if (!t) return d;
  d.data = base + plan.offsets.at(t);
  switch (t->dtype) {
    case DType::F32: d.type = WeightType::F32; break;
    case DType::F16: d.type = WeightType::F16; break;
    case DType::BF16: d.type = WeightType::BF16; break;
    default: throw EngineError("unsupported", "tensor " + t->name + " has dtype " + t->dtype_label);
  }
  return d;
}

}  // namespace

CudaBackend::CudaBackend(const BackendOptions& options) : device_(options.device) {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess || count == 0) {
    cudaGetLastError();
    throw EngineError("unsupported", "no CUDA device (is the driver loaded? try --backend cpu)");
  }
  if (device_ < 0 || device_ >= count) throw EngineError("bad_request", "CUDA device " + std::to_string(device_) + " does not exist");
  CUDA_TRY(cudaSetDevice(device_));
  cudaDeviceProp prop{};
  CUDA_TRY(cudaGetDeviceProperties(&prop, device_));
  if (prop.major < 8) throw EngineError("unsupported", std::string(prop.name) + " is older than sm_80");
  device_name_ = prop.name;
  CUDA_TRY(cudaStreamCreateWithFlags(&compute_, cudaStreamNonBlocking));
  CUDA_TRY(cudaEventCreate(&ev_start_));
  CUDA_TRY(cudaEventCreate(&ev_stop_));
  pager_.init();
}

CudaBackend::~CudaBackend() {
  if (compute_) cudaStreamSynchronize(compute_);
  for (auto& [key, exec] : graphs_) cudaGraphExecDestroy(exec);
  if (reservation_) cudaFree(reservation_);
  if (meta_host_) cudaFreeHost(meta_host_);
  if (park_host_) cudaFreeHost(park_host_);
  if (ev_start_) cudaEventDestroy(ev_start_);
  if (ev_stop_) cudaEventDestroy(ev_stop_);
  if (compute_) cudaStreamDestroy(compute_);
}

void CudaBackend::init_kv_pool(size_t num_pages, size_t page_bytes) {
  CUDA_TRY(cudaSetDevice(device_));
  if (reservation_) throw EngineError("internal", "KV pool already initialized");
  if (page_bytes % 256 != 0) throw EngineError("bad_request", "KV page bytes must be a multiple of 256");
  size_t free_bytes = 0, total_bytes = 0;
  CUDA_TRY(cudaMemGetInfo(&free_bytes, &total_bytes));
  const char* frac_env = std::getenv("TIDEPOOL_CUDA_MEMORY_FRACTION");
  const double fraction = frac_env && *frac_env ? std::atof(frac_env) : 0.90;
  reserved_bytes_ = align256(env_bytes("TIDEPOOL_CUDA_MEMORY_BYTES", static_cast<size_t>(free_bytes * fraction)));
  scratch_bytes_ = align256(env_bytes("TIDEPOOL_CUDA_SCRATCH_BYTES", size_t(512) << 20));
  num_pages_ = num_pages;
  page_bytes_ = page_bytes;
  const size_t kv_bytes = num_pages * page_bytes;
  if (kv_bytes + scratch_bytes_ > reserved_bytes_)
    throw EngineError("out_of_memory", "KV pool (" + std::to_string(kv_bytes) + " bytes) plus scratch (" +
                                           std::to_string(scratch_bytes_) + ") exceed the device reservation (" +
                                           std::to_string(reserved_bytes_) + "); lower --kv-budget-bytes");
  // Batch metadata: 5 ints per token (token, pos, table offset, table length, logit row) + every page id.
  meta_ints_ = 5 * kMaxBatchTokens + num_pages + 64;
  if (align256(meta_ints_ * 4) * 2 > scratch_bytes_) throw EngineError("out_of_memory", "scratch too small for batch metadata");
  cudaError_t err = cudaMalloc(reinterpret_cast<void**>(&reservation_), reserved_bytes_);  // the one reservation
  if (err != cudaSuccess) {
    cudaGetLastError();
    reservation_ = nullptr;
    throw EngineError("out_of_memory", "cannot reserve " + std::to_string(reserved_bytes_) + " bytes on " + device_name_);
  }
  kv_pool_ = reservation_;
  scratch_ = reservation_ + align256(kv_bytes);
  meta_dev_ = reinterpret_cast<int32_t*>(scratch_);
  activations_ = scratch_ + align256(meta_ints_ * 4);
  activation_bytes_ = scratch_bytes_ - align256(meta_ints_ * 4);
  uint8_t* arena = scratch_ + scratch_bytes_;
  arena_.reset(arena, reserved_bytes_ - static_cast<size_t>(arena - reservation_));
  CUDA_TRY(cudaHostAlloc(reinterpret_cast<void**>(&meta_host_), meta_ints_ * 4, cudaHostAllocDefault));
  CUDA_TRY(cudaHostAlloc(reinterpret_cast<void**>(&park_host_), kParkStagingBytes, cudaHostAllocDefault));
  std::fprintf(stderr, "cuda: %s: reserved %.2f GiB = KV %.2f GiB + scratch %.0f MiB + weights arena %.2f GiB\n",
               device_name_.c_str(), reserved_bytes_ / 1073741824.0, kv_bytes / 1073741824.0, scratch_bytes_ / 1048576.0,
               arena_.capacity() / 1073741824.0);
}

void CudaBackend::build_views(Slot& s) const {
  const Model& m = *s.model;
  s.embed = view(s.plan, s.weights, m.embed);
  s.final_norm = view(s.plan, s.weights, m.final_norm);
  s.lm_head = view(s.plan, s.weights, m.lm_head);
  for (const LayerWeights& w : m.layers) {
    Layer l;
    l.input_norm = view(s.plan, s.weights, w.input_norm);
    l.q = view(s.plan, s.weights, w.q);
    l.k = view(s.plan, s.weights, w.k);
    l.v = view(s.plan, s.weights, w.v);
    l.q_bias = view(s.plan, s.weights, w.q_bias);
    l.k_bias = view(s.plan, s.weights, w.k_bias);
    l.v_bias = view(s.plan, s.weights, w.v_bias);
    l.o = view(s.plan, s.weights, w.o);
    l.post_norm = view(s.plan, s.weights, w.post_norm);
    l.gate = view(s.plan, s.weights, w.gate);
    l.up = view(s.plan, s.weights, w.up);
    l.down = view(s.plan, s.weights, w.down);
    s.layers.push_back(l);
  }
}

int CudaBackend::load_slot(const Model& model, const KvLayout& layout) {
  const auto t0 = std::chrono::steady_clock::now();
  CUDA_TRY(cudaSetDevice(device_));
  if (!reservation_) throw EngineError("internal", "init_kv_pool must come before load_slot");
  const ModelConfig& c = model.config;
  for (int dim : {c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size})
    if (dim % 8 != 0) throw EngineError("unsupported", "CUDA backend needs model dimensions divisible by 8");
  if (c.head_dim % 2 != 0 || c.head_dim > 256) throw EngineError("unsupported", "CUDA backend needs an even head_dim <= 256");
  if (layout.row_bytes != static_cast<size_t>(c.kv_dim()) * kv_element_bytes())
    throw EngineError("internal", "KV layout was not made for bf16 elements");
  auto slot = std::make_shared<Slot>();
  slot->model = &model;
  slot->layout = layout;
  slot->plan = plan_weights(model);
  slot->act = activation_type(model);
  slot->chunk_tokens = chunk_tokens_for(c, slot->act);
  const size_t freq_offset = slot->plan.bytes;
  const size_t bytes = freq_offset + align256(static_cast<size_t>(c.head_dim / 2) * sizeof(float));
  slot->weights = arena_.allocate(bytes);
  if (!slot->weights)
    throw EngineError("out_of_memory", "weights arena: model needs " + std::to_string(bytes) + " bytes, largest free run is " +
                                           std::to_string(arena_.largest_free()) + " of " + std::to_string(arena_.capacity()));
  try {
    LoadStats st = pager_.load(model, slot->plan, slot->weights);
    std::vector<float> inv_freq(c.head_dim / 2);
    for (int i = 0; i < c.head_dim / 2; i++)  // as the CPU backend (and HF) computes it: f32 pow
      inv_freq[i] = 1.0f / std::pow(static_cast<float>(c.rope_theta), static_cast<float>(2 * i) / c.head_dim);
    slot->inv_freq = reinterpret_cast<float*>(slot->weights + freq_offset);
    CUDA_TRY(cudaMemcpyAsync(slot->inv_freq, inv_freq.data(), inv_freq.size() * sizeof(float), cudaMemcpyHostToDevice, pager_.stream()));
    CUDA_TRY(cudaStreamSynchronize(pager_.stream()));
    build_views(*slot);
    st.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    st.fixed_ms = std::max(0.0, st.total_ms - st.copy_ms);
    std::fprintf(stderr, "cuda: load %s: %.1f MiB in %.1f ms (copy %.1f ms, %.1f GB/s, %s, %d copies); fixed overhead %.2f ms (pin %.2f ms)\n",
                 model.dir.c_str(), st.bytes / 1048576.0, st.total_ms, st.copy_ms, st.gbps(), st.pinned ? "pinned mapping" : "staging ring",
                 st.copies, st.fixed_ms, st.pin_ms);
    std::lock_guard<std::mutex> lock(slots_mutex_);
    last_load_ = st;
    for (size_t i = 0; i < slots_.size(); i++) {
      if (!slots_[i]) {
        slots_[i] = slot;
        return static_cast<int>(i);
      }
    }
    slots_.push_back(slot);
    return static_cast<int>(slots_.size() - 1);
  } catch (...) {
    arena_.release(slot->weights);  // the mapping stays pinned until release_host
    throw;
  }
}

void CudaBackend::free_slot(int slot_id) {
  CUDA_TRY(cudaSetDevice(device_));
  std::shared_ptr<Slot> slot;
  {
    std::lock_guard<std::mutex> lock(slots_mutex_);
    if (slot_id < 0 || static_cast<size_t>(slot_id) >= slots_.size() || !slots_[slot_id]) return;
    slot = std::move(slots_[slot_id]);
  }
  CUDA_TRY(cudaStreamSynchronize(compute_));  // no kernel still reads these weights
  for (auto it = graphs_.begin(); it != graphs_.end();) {
    if (it->first.first == slot_id) {
      cudaGraphExecDestroy(it->second);
      it = graphs_.erase(it);
    } else {
      ++it;
    }
  }
  arena_.release(slot->weights);  // the host mapping stays pinned for the next load of this model
}

void CudaBackend::prepare_host(const Model& model) {
  CUDA_TRY(cudaSetDevice(device_));
  const double ms = pager_.pin(model, plan_weights(model));
  if (ms > 0) std::fprintf(stderr, "cuda: pinned %s in %.1f ms\n", model.dir.c_str(), ms);
}

void CudaBackend::release_host(const Model& model) {
  CUDA_TRY(cudaSetDevice(device_));
  pager_.unpin(model);
}

BackendMemory CudaBackend::memory() const {
  const MemoryStats m = memory_stats();
  BackendMemory b;
  b.device_reserved_bytes = m.reserved_bytes;
  b.device_weights_bytes = m.arena_bytes;
  b.device_weights_used_bytes = m.arena_used_bytes;
  b.device_weights_largest_free_bytes = m.arena_largest_free_bytes;
  b.host_pinned_bytes = pager_.pinned_bytes();
  return b;
}

std::shared_ptr<CudaBackend::Slot> CudaBackend::get_slot(int slot) const {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size() || !slots_[slot])
    throw EngineError("internal", "no model in slot " + std::to_string(slot));
  return slots_[slot];
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

void CudaBackend::kv_to_host(const std::vector<int32_t>& pages, uint8_t* host) { move_pages(pages, host, nullptr); }
void CudaBackend::kv_from_host(const std::vector<int32_t>& pages, const uint8_t* host) { move_pages(pages, nullptr, host); }

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
