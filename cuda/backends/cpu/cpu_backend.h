// The CPU backend: weights are used in place from the mapped safetensors, the KV pool is one anonymous
// mapping (pages are committed lazily by the OS), and the forward pass runs on a thread pool. Arithmetic and
// storage are f32; with CUDA precision emulation on, values are rounded where the CUDA backend stores them
// narrower (backends/precision.h), so CPU and CUDA results differ only by summation order.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "../../src/safetensors.h"
#include "../backend.h"
#include "thread_pool.h"

namespace tidepool {

class CpuBackend : public Backend {
 public:
  explicit CpuBackend(const BackendOptions& options);
  ~CpuBackend() override;

  std::string name() const override { return "cpu"; }
  std::string device_name() const override;
  size_t kv_element_bytes() const override { return sizeof(float); }
  void init_kv_pool(size_t num_pages, size_t page_bytes) override;
  int load_slot(const Model& model, const KvLayout& layout) override;
  void free_slot(int slot) override;
  void forward(int slot, const std::vector<BatchEntry>& batch, float* logits) override;
  void forward_hidden(int slot, const BatchEntry& entry, float* hidden) override;
  void kv_to_host(const std::vector<int32_t>& pages, uint8_t* host) override;
  void kv_from_host(const std::vector<int32_t>& pages, const uint8_t* host) override;

 private:
  struct Slot {
    const Model* model = nullptr;
    KvLayout layout;
    std::vector<float> inv_freq;  // (head_dim/2) RoPE frequencies
    DType act = DType::F32;       // where activations round: the model's activation dtype when emulating
  };
  struct Activations;
  struct TokenRef {
    int entry;  // index into the batch
    int pos;    // absolute position in its sequence
  };

  Slot slot_copy(int slot);
  // Every layer over the batch's tokens (filling tokens_); returns the residual stream x, (T, hidden).
  std::vector<float> run_layers(const Slot& s, const std::vector<BatchEntry>& batch);
  float* kv_row(const Slot& s, const BatchEntry& e, int pos, int layer, int kv);
  void attention_layer(const Slot& s, const std::vector<BatchEntry>& batch, int layer, const float* q, float* out);
  void write_kv(const Slot& s, const std::vector<BatchEntry>& batch, int layer, const float* k, const float* v);
  void run_layer(const Slot& s, const std::vector<BatchEntry>& batch, int layer, Activations& a);
  std::string precision_note() const { return emulate_cuda_ ? " (cuda precision)" : ""; }

  ThreadPool pool_;
  const bool emulate_cuda_;  // round as the CUDA backend stores (bf16 KV, activations in the weights' dtype)
  std::mutex slots_mutex_;
  std::vector<std::unique_ptr<Slot>> slots_;
  uint8_t* kv_pool_ = nullptr;  // (num_pages, page_bytes)
  size_t kv_pool_bytes_ = 0;
  size_t page_bytes_ = 0;
  size_t num_pages_ = 0;
  std::vector<TokenRef> tokens_;  // (T) per computed token
};

}  // namespace tidepool
