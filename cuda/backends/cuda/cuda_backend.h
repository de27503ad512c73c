// The CUDA backend. At init_kv_pool it makes the engine's one device reservation (cudaMalloc once) and
// splits it:
//   [ KV pool: num_pages x page_bytes ][ scratch: activations of one forward chunk ][ weights arena ]
// The reservation is TIDEPOOL_CUDA_MEMORY_BYTES, else TIDEPOOL_CUDA_MEMORY_FRACTION (default 0.90) of the
// device memory free at start; scratch is TIDEPOOL_CUDA_SCRATCH_BYTES (default 512 MiB). Model slots are
// carved from the weights arena (DeviceArena); a model that does not fit throws out_of_memory.
//
// Streams: compute (the step thread: forward, park, restore) and the pager's copy stream (load_slot,
// which may run on the loader thread), so a prefetch overlaps decode of another model.
#pragma once

#include <cuda_runtime_api.h>

#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "../../kernels/kernels.h"
#include "../backend.h"
#include "device_arena.h"
#include "forward_plan.h"
#include "weight_pager.h"

namespace tidepool::cuda {

struct DeviceTensor {
  const void* data = nullptr;
  WeightType type = WeightType::F32;
};

struct MemoryStats {
  size_t reserved_bytes = 0;
  size_t kv_bytes = 0;
  size_t scratch_bytes = 0;
  size_t arena_bytes = 0;
  size_t arena_used_bytes = 0;
  size_t arena_largest_free_bytes = 0;
  int slots = 0;
};

class CudaBackend : public Backend {
 public:
  explicit CudaBackend(const BackendOptions& options);
  ~CudaBackend() override;

  std::string name() const override { return "cuda"; }
  std::string device_name() const override { return device_name_; }
  size_t kv_element_bytes() const override { return 2; }  // bf16
  void init_kv_pool(size_t num_pages, size_t page_bytes) override;
  int load_slot(const Model& model, const KvLayout& layout) override;
  void free_slot(int slot) override;
  void forward(int slot, const std::vector<BatchEntry>& batch, float* logits) override;
  void forward_hidden(int slot, const BatchEntry& entry, float* hidden) override;  // cuda_hidden.cpp
  void kv_to_host(const std::vector<int32_t>& pages, uint8_t* host) override;
  void kv_from_host(const std::vector<int32_t>& pages, const uint8_t* host) override;
  void prepare_host(const Model& model) override;
  void release_host(const Model& model) override;
  BackendMemory memory() const override;

  // Beyond the interface: for the benchmark and the logs.
  MemoryStats memory_stats() const;
  LoadStats last_load() const;
  void set_graphs_enabled(bool on) { graphs_enabled_ = on; }
  cudaStream_t compute_stream() const { return compute_; }

 private:
  struct Layer {
    DeviceTensor input_norm, q, k, v, q_bias, k_bias, v_bias, o, post_norm, gate, up, down;
  };
  struct Slot {
    const Model* model = nullptr;
    KvLayout layout;
    WeightPlan plan;
    uint8_t* weights = nullptr;  // (plan.bytes) in the arena
    float* inv_freq = nullptr;   // (head_dim/2) at the end of the slot
    DeviceTensor embed, final_norm, lm_head;
    std::vector<Layer> layers;
    int chunk_tokens = 0;        // tokens per forward chunk that fit the scratch
  };

  std::shared_ptr<Slot> get_slot(int slot) const;
  void build_views(Slot& s) const;
  int chunk_tokens_for(const ModelConfig& c) const;
  // forward pieces (cuda_forward.cpp)
  void upload_batch(const Slot& s, const std::vector<BatchEntry>& batch, int& T, std::vector<int>& rows);
  void linear(const ChunkViews& v, const float* X, const DeviceTensor& W, const DeviceTensor* bias, float* Y, int T, int N, int K);
  void run_layers(const Slot& s, const ChunkViews& v, int t0, int n);
  void run_logits(const Slot& s, const ChunkViews& v, const int32_t* rows_dev, int R);
  bool run_decode_graph(int slot_id, const Slot& s, const ChunkViews& v, int T, float* logits);
  void move_pages(const std::vector<int32_t>& pages, uint8_t* host_out, const uint8_t* host_in);

  int device_ = 0;
  std::string device_name_;
  cudaStream_t compute_ = nullptr;
  cudaEvent_t ev_start_ = nullptr, ev_stop_ = nullptr;
  WeightPager pager_;
  DeviceArena arena_;

  uint8_t* reservation_ = nullptr;  // the one cudaMalloc
  size_t reserved_bytes_ = 0;
  uint8_t* kv_pool_ = nullptr;      // (num_pages, page_bytes)
  size_t num_pages_ = 0, page_bytes_ = 0;
  uint8_t* scratch_ = nullptr;      // (scratch_bytes_)
  size_t scratch_bytes_ = 0;
  int32_t* meta_dev_ = nullptr;     // (meta_ints_) batch metadata on the device, inside scratch
  int32_t* meta_host_ = nullptr;    // (meta_ints_) pinned mirror
  size_t meta_ints_ = 0;
  uint8_t* activations_ = nullptr;  // (activation_bytes_) the rest of scratch: one chunk's activations
  size_t activation_bytes_ = 0;
  uint8_t* park_host_ = nullptr;    // pinned staging for KV park/restore

  mutable std::mutex slots_mutex_;
  std::vector<std::shared_ptr<Slot>> slots_;
  LoadStats last_load_;

  // Decode graphs per (slot, batch size); step thread only.
  bool graphs_enabled_ = true;
  std::map<std::pair<int, int>, cudaGraphExec_t> graphs_;
  // Views of the current batch's metadata (device), set by upload_batch.
  int32_t* d_tokens_ = nullptr;
  TokenTables tables_;
  int32_t* d_rows_ = nullptr;
};

}  // namespace tidepool::cuda
