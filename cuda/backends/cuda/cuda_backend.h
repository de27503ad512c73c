// The CUDA backend. At init_memory it makes the engine's one device reservation (cudaMalloc once), of the
// size the engine's memory plan gives (memory_plan.h: by default a fraction of the device memory free at
// start, never host RAM), and splits it as the plan says:
//   [ KV pool: num_pages x page_bytes ][ scratch: activations of one forward chunk ][ weights arena ]
// Model slots are carved from the weights arena (DeviceArena); a model that does not fit throws
// out_of_memory.
//
// Streams: compute (the step thread: forward, park, restore) and the pager's copy stream (load_slot,
// which may run on the loader thread), so a prefetch overlaps decode of another model.
//
// Sampling: forward_prepared keeps a step's logit rows in the scratch and runs the sampler's stage 1 and
// first stage 2 request there (sampling_prep.cu, cuda_sampling.cpp), so candidates come back, not rows.
//
// Failures: CUDA errors become EngineError; a device fault that leaves the context unusable becomes
// `device_lost` (the server then exits for its supervisor to restart it). Each public entry point names
// its phase (which slot, which step) in the message, since an asynchronous fault surfaces at a later call.
#pragma once

#include <cuda_runtime_api.h>

#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../../kernels/kernels.h"
#include "../backend.h"
#include "cuda_graphs.h"
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
  MemorySource memory_source() const override;
  void init_memory(const MemoryPlan& plan) override;
  // A KV pool of this size in the default budget (plan_memory with only the KV size given).
  void init_kv_pool(size_t num_pages, size_t page_bytes) override;
  size_t slot_bytes(const Model& model, size_t weight_bytes) const override;
  int load_slot(const Model& model, const KvLayout& layout) override;
  void free_slot(int slot) override;
  void forward(int slot, const std::vector<BatchEntry>& batch, float* logits) override;
  // Sampling prepared on the device (cuda_sampling.cpp): sampling_prep.cu on the logit rows of a step of
  // at most kLogitRows rows; off with set_device_sampling(false) or TIDEPOOL_CUDA_SAMPLING=host.
  int prepared_rows() const override { return device_sampling_ ? kLogitRows : 0; }
  void forward_prepared(int slot, const std::vector<BatchEntry>& batch, const std::vector<RowSampling>& rows,
                        std::vector<RowCandidates>& out) override;
  void fetch_row(int row, float* raw, float* processed) override;
  void forward_hidden(int slot, const BatchEntry& entry, float* hidden) override;  // cuda_hidden.cpp
  void kv_to_host(const std::vector<int32_t>& pages, uint8_t* host) override;
  void kv_from_host(const std::vector<int32_t>& pages, const uint8_t* host) override;
  void prepare_host(const Model& model) override;
  void release_host(const Model& model) override;
  BackendMemory memory() const override;

  // Beyond the interface: for the benchmark, the tests and the logs.
  MemoryStats memory_stats() const;
  LoadStats last_load() const;
  GraphStats graph_stats() const { return graphs_.stats(); }  // step thread
  size_t last_graph_nodes() const { return graphs_.stats().last_nodes; }
  const HostRegistration& host_registration() const { return pager_.registration(); }
  void set_graphs_enabled(bool on) { graphs_enabled_ = on; }
  void set_host_pinning(bool on) { pager_.set_pinning(on); }    // see WeightPager::set_pinning
  void set_device_sampling(bool on) { device_sampling_ = on; }  // tests: the host path on the same logits
  struct DeviceSamplingStats {
    int64_t rows = 0;             // logit rows prepared on the device
    int64_t rows_unanswered = 0;  // of which the device could not answer (the host sampled the raw row)
    int64_t rows_fetched = 0;     // rows copied back by fetch_row
  };
  DeviceSamplingStats device_sampling_stats() const { return sampling_stats_; }  // step thread
  cudaStream_t compute_stream() const { return compute_; }

 private:
  struct Layer {
    DeviceTensor input_norm, q, k, v, q_bias, k_bias, v_bias, o, post_norm, gate, up, down;
  };
  struct Slot {
    const Model* model = nullptr;
    KvLayout layout;
    WeightPlan plan;
    uint8_t* weights = nullptr;  // (bytes) in the arena: plan.bytes of weights, then inv_freq
    size_t bytes = 0;
    float* inv_freq = nullptr;  // (head_dim/2) at the end of the slot
    DeviceTensor embed, final_norm, lm_head;
    std::vector<Layer> layers;
    WeightType act = WeightType::F32;  // activation dtype: the linear weights' (backends/precision.h)
    int chunk_tokens = 0;              // tokens per forward chunk that fit the scratch
    uint64_t shape = 0;                // geometry without the address (slot_shape)
    uint64_t geometry = 0;             // shape + address: what a decode graph of this slot bakes in
  };
  // Where a slot id last held a model, kept after free_slot so a reload of the same shape lands at the same
  // address and its decode graphs replay.
  struct SlotHome {
    uint8_t* weights = nullptr;
    size_t bytes = 0;
    uint64_t shape = 0;
    uint64_t vacated = 0;  // free_slot order; 0: never held a model
  };

  // cuda_slots.cpp
  std::shared_ptr<Slot> get_slot(int slot) const;
  std::string slot_label(int slot) const;  // "slot 2 (/dev/shm/...)", never throws
  void build_views(Slot& s) const;
  int place_slot(const std::shared_ptr<Slot>& slot);  // picks a slot id and arena region; slots_mutex_ held
  void copy_weights(Slot& slot, LoadStats& st);
  // cuda_forward.cpp
  int chunk_tokens_for(const ModelConfig& c, WeightType act) const;
  void upload_batch(const Slot& s, const std::vector<BatchEntry>& batch, int& T, std::vector<int>& rows);
  struct LinearIn {
    const DeviceTensor* w;
    int n;  // output features (rows of w)
  };
  struct LinearOut {
    float* y[3] = {};  // where each tensor's (T, n_i) outputs start
    int ld[3] = {};    // and their row stride
  };
  LinearOut linear(const Slot& s, const ChunkViews& v, const void* X, const int32_t* x_rows, int T, int K,
                   std::initializer_list<LinearIn> group, float* Y);
  void attention_block(const Slot& s, const ChunkViews& v, const TokenTables& tt, int l, int n);
  void mlp_block(const Slot& s, const ChunkViews& v, int l, int n);
  void run_layers(const Slot& s, const ChunkViews& v, int t0, int n);
  void run_logits(const Slot& s, const ChunkViews& v, const int32_t* rows_dev, int R, float* out);
  // One step's device sampling: its rows' inputs in, their answers out (cuda_sampling.cpp).
  struct PreparedStep {
    const std::vector<RowSampling>* rows = nullptr;
    std::vector<uint8_t> inputs;          // (prep_input_bytes) staged as uploaded to ChunkViews::prep_in
    bool staged = false;                  // the inputs fit: the kernel ran and `answers` hold its records
    std::vector<PrepCandidates> answers;  // (rows)
  };
  // forward and forward_prepared without their phase name; `prep` keeps the logit rows on the device.
  void forward_batch(int slot_id, const std::vector<BatchEntry>& batch, float* logits, PreparedStep* prep = nullptr);
  std::string forward_label(int slot_id, const std::vector<BatchEntry>& batch) const;
  void run_sampling_prep(const ChunkViews& v, int vocab, int rows, PreparedStep& step);
  // cuda_graphs.cpp's DecodeGraphs around the layer loop: false when this batch size runs eagerly
  bool run_decode_graph(int slot_id, const Slot& s, const ChunkViews& v, int T, float* logits);
  // cuda_backend.cpp
  void move_pages(const std::vector<int32_t>& pages, uint8_t* host_out, const uint8_t* host_in);

  int device_ = 0;
  std::string device_name_;
  cudaStream_t compute_ = nullptr;
  cudaEvent_t ev_stop_ = nullptr;
  WeightPager pager_;
  DeviceArena arena_;

  uint8_t* reservation_ = nullptr;  // the one cudaMalloc
  size_t reserved_bytes_ = 0;
  uint8_t* kv_pool_ = nullptr;  // (num_pages, page_bytes)
  size_t num_pages_ = 0, page_bytes_ = 0;
  uint8_t* scratch_ = nullptr;  // (scratch_bytes_)
  size_t scratch_bytes_ = 0;
  int32_t* meta_dev_ = nullptr;   // (meta_ints_) batch metadata on the device, inside scratch
  int32_t* meta_host_ = nullptr;  // (meta_ints_) pinned mirror
  size_t meta_ints_ = 0;
  uint8_t* activations_ = nullptr;  // (activation_bytes_) the rest of scratch: one chunk's activations
  size_t activation_bytes_ = 0;
  uint8_t* park_host_ = nullptr;  // pinned staging for KV park/restore

  mutable std::mutex slots_mutex_;
  std::vector<std::shared_ptr<Slot>> slots_;  // by slot id; null when free
  std::vector<SlotHome> homes_;               // by slot id
  uint64_t vacated_count_ = 0;
  LoadStats last_load_;

  // Decode graphs per (slot, batch size); step thread only. Off with TIDEPOOL_CUDA_SYNC_LAUNCHES.
  bool graphs_enabled_ = true;
  DecodeGraphs graphs_;
  bool inject_forward_fault_ = false;  // TIDEPOOL_CUDA_INJECT_FAULT=forward (cuda_protocol_test)
  // Device sampling (cuda_sampling.cpp); step thread only. The last forward_prepared's rows stay in the
  // scratch (raw in ChunkViews::logits, processed in ::processed) until the next forward.
  bool device_sampling_ = true;
  PreparedStep prepared_;
  const float* kept_raw_ = nullptr;  // (kept_rows_, kept_vocab_)
  const float* kept_processed_ = nullptr;
  int kept_rows_ = 0, kept_vocab_ = 0;
  DeviceSamplingStats sampling_stats_;
  // Views of the current batch's metadata (device), set by upload_batch.
  int32_t* d_tokens_ = nullptr;
  TokenTables tables_;
  int32_t* d_rows_ = nullptr;
};

}  // namespace tidepool::cuda
