// The device side of the engine. The step loop (src/) owns scheduling, the block manager and sampling; a
// backend owns device memory and math: model slots (weights resident on the device), the paged KV pool and
// the forward pass over a batch described by block tables. The CPU backend (backends/cpu) is the reference;
// a CUDA backend implements the same class in backends/cuda and is created by make_cuda_backend.
//
// Threading: load_slot and prepare_host run on the loader thread while forward runs on the step thread for
// another slot (that is how a prefetch overlaps decode). Every other call comes from the step thread. Errors are thrown
// as tidepool::EngineError.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "../src/memory_plan.h"
#include "device_sampling.h"

namespace tidepool {

struct Model;
struct ModelConfig;

struct BackendOptions {
  int threads = 0;  // CPU worker threads; 0 = all cores
  int device = 0;   // CUDA device ordinal
  // CPU backend: round where the CUDA backend rounds (backends/precision.h); also on with
  // TIDEPOOL_CPU_PRECISION=cuda in the environment.
  bool emulate_cuda_precision = false;
};

// How a model's KV cache maps onto pool pages. A logical block holds `block_tokens` tokens of K and V for
// every layer, as rows of kv_dim elements ordered (layer, k|v, token-in-block). Rows never straddle pages:
// a page holds `rows_per_page` rows, and a logical block spans `pages_per_block` consecutive block-table
// entries. The pool is shared by every resident model, so page_bytes is fixed for the process.
struct KvLayout {
  int layers = 0;
  int kv_dim = 0;
  int block_tokens = 0;
  size_t row_bytes = 0;
  size_t page_bytes = 0;
  int rows_per_page = 0;
  int pages_per_block = 0;

  // Page-table index and byte offset of one row: (token position, layer, 0 = K / 1 = V).
  size_t table_index(int pos, int layer, int kv) const {
    size_t row = (static_cast<size_t>(layer) * 2 + kv) * block_tokens + pos % block_tokens;
    return static_cast<size_t>(pos / block_tokens) * pages_per_block + row / rows_per_page;
  }
  size_t row_offset(int pos, int layer, int kv) const {
    size_t row = (static_cast<size_t>(layer) * 2 + kv) * block_tokens + pos % block_tokens;
    return (row % rows_per_page) * row_bytes;
  }
};

// Throws EngineError("unsupported") when one row does not fit a page.
KvLayout make_kv_layout(const ModelConfig& config, int block_tokens, size_t page_bytes, size_t kv_elem_bytes);

// One sequence's share of a forward batch.
struct BatchEntry {
  const int32_t* tokens = nullptr;  // the tokens to compute, positions start_pos .. start_pos+n_tokens-1
  int n_tokens = 0;
  int start_pos = 0;               // tokens before it already have K/V in the pool
  const int32_t* pages = nullptr;  // block table: page ids covering positions 0 .. start_pos+n_tokens-1
  int n_pages = 0;
  bool all_logits = false;  // logits for every computed token, else for the last one only
};

// What the backend itself holds, for the protocol's stats; 0 where it does not apply (the CPU backend reads
// weights in place and owns no device memory).
struct BackendMemory {
  size_t device_reserved_bytes = 0;      // the one device reservation
  size_t device_weights_bytes = 0;       // the weights arena inside it
  size_t device_weights_used_bytes = 0;  // given to model slots
  size_t device_weights_largest_free_bytes = 0;
  size_t host_pinned_bytes = 0;  // host mappings page-locked for DMA
  size_t host_staged_bytes = 0;  // host mappings that could not be page-locked: their loads go
                                 // through a staging ring at a fraction of the DMA rate
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;         // "cpu", "cuda"
  virtual std::string device_name() const = 0;  // human-readable device
  virtual size_t kv_element_bytes() const = 0;  // bytes per cached K/V element

  // Where the engine's memory budget comes from (plan_memory): host memory unless the backend owns a device.
  virtual MemorySource memory_source() const { return host_memory_source(); }
  // Reserves what the plan sizes, once, before any forward. A device backend makes its one reservation of
  // plan.budget_bytes here (KV pool, scratch, weights arena); a host backend only needs the KV pool.
  virtual void init_memory(const MemoryPlan& plan) { init_kv_pool(plan.kv_pages, plan.kv_page_bytes); }
  // Reserves the paged KV pool once, before any forward: num_pages pages of page_bytes each.
  virtual void init_kv_pool(size_t num_pages, size_t page_bytes) = 0;
  // Bytes of the weights budget a slot of this model takes: its `weight_bytes`, plus the alignment padding
  // and per-slot tables of a device backend.
  virtual size_t slot_bytes(const Model& model, size_t weight_bytes) const { return (void)model, weight_bytes; }

  // Readies a mapped model's host memory for fast copies (CUDA: page-locks the mapping, which costs about a
  // second per GB/s of pinning rate, so it is done once per mapping, not once per load). May run on the
  // loader thread. release_host undoes it before the mapping goes away; the model has no slot then.
  virtual void prepare_host(const Model& model) { (void)model; }
  virtual void release_host(const Model& model) { (void)model; }
  virtual BackendMemory memory() const { return {}; }

  // Makes a model's weights usable by forward and returns its slot id. The CPU backend reads the mapped
  // tensors in place; a device backend copies them into its weights arena. The Model outlives the slot.
  virtual int load_slot(const Model& model, const KvLayout& layout) = 0;
  virtual void free_slot(int slot) = 0;

  // One forward pass. Writes K/V of the computed tokens into the pool and the logits, f32, as rows of
  // vocab_size in batch order (n_tokens rows for all_logits entries, one row otherwise).
  virtual void forward(int slot, const std::vector<BatchEntry>& batch, float* logits) = 0;

  // Sampling prepared on the device (device_sampling.h). prepared_rows() is how many logit rows one
  // forward_prepared may have; 0 (the default) means the backend does not offer it. forward_prepared is
  // forward() whose logit rows (one per entry, no all_logits) stay with the backend: `out` gets one answer
  // per row, and fetch_row copies a row back (raw logits, and the processed row of an answered one; either
  // pointer may be null) until the next forward.
  virtual int prepared_rows() const { return 0; }
  virtual void forward_prepared(int slot, const std::vector<BatchEntry>& batch, const std::vector<RowSampling>& rows,
                                std::vector<RowCandidates>& out);
  virtual void fetch_row(int row, float* raw, float* processed);

  // Embedding functions: one forward pass of a single entry that writes its K/V like forward, but returns
  // the final hidden states (after the final norm), f32, (n_tokens, hidden_size), instead of logits.
  virtual void forward_hidden(int slot, const BatchEntry& entry, float* hidden) = 0;
  // Copies whole pages between the pool and host memory (park / restore); bit-exact.
  virtual void kv_to_host(const std::vector<int32_t>& pages, uint8_t* host) = 0;
  virtual void kv_from_host(const std::vector<int32_t>& pages, const uint8_t* host) = 0;
};

std::unique_ptr<Backend> make_cpu_backend(const BackendOptions& options);
#ifdef TIDEPOOL_HAVE_CUDA
std::unique_ptr<Backend> make_cuda_backend(const BackendOptions& options);
#endif

// Backends compiled into this binary, in preference order ("cuda" first when present).
std::vector<std::string> built_backends();
std::unique_ptr<Backend> make_backend(const std::string& name, const BackendOptions& options);

}  // namespace tidepool
