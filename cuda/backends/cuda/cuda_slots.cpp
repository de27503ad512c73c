// CudaBackend's model slots: placing a model in the weights arena, copying its weights, and the slot's
// geometry (what a decode graph bakes in). A slot id keeps its *home* (address, size, shape) after
// free_slot, so a reload of a model of the same shape lands at the same address under the same id and the
// decode graphs captured for it replay (cuda_graphs.h).
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "../../src/errors.h"
#include "../../src/model.h"
#include "cuda_backend.h"
#include "cuda_check.h"

namespace tidepool::cuda {

namespace {

size_t align256(size_t v) { return (v + 255) / 256 * 256; }

size_t inv_freq_bytes(const ModelConfig& c) { return align256(static_cast<size_t>(c.head_dim / 2) * sizeof(float)); }

DeviceTensor view(const WeightPlan& plan, uint8_t* base, const TensorView* t) {
  DeviceTensor d;
  if (!t) return d;
  d.data = base + plan.offsets.at(t);
  switch (t->dtype) {
    case DType::F32:
      d.type = WeightType::F32;
      break;
    case DType::F16:
      d.type = WeightType::F16;
      break;
    case DType::BF16:
      d.type = WeightType::BF16;
      break;
    default:
      throw EngineError("unsupported", "tensor " + t->name + " has dtype " + t->dtype_label);
  }
  return d;
}

// FNV-1a over 64-bit words.
struct Hasher {
  uint64_t h = 1469598103934665603ull;
  void add(uint64_t v) {
    for (int i = 0; i < 8; i++, v >>= 8) h = (h ^ (v & 0xff)) * 1099511628211ull;
  }
  void add_double(double d) {
    uint64_t bits = 0;
    std::memcpy(&bits, &d, sizeof bits);
    add(bits);
  }
};

// Everything a decode step bakes into a graph except the slot's address: where each tensor sits in the
// slot and its dtype, the by-value parameters (dimensions, eps) and the KV geometry and chunk size.
// Anything new a captured step reads from the slot must be added here.
uint64_t slot_shape(const Model& m, const WeightPlan& plan, const KvLayout& l, int chunk_tokens) {
  Hasher h;
  auto tensor = [&](const TensorView* t) {
    h.add(t ? plan.offsets.at(t) : ~uint64_t{0});
    h.add(t ? static_cast<uint64_t>(t->dtype) : 99);
  };
  tensor(m.embed);
  tensor(m.final_norm);
  tensor(m.lm_head);
  for (const LayerWeights& w : m.layers)
    for (const TensorView* t :
         {w.input_norm, w.q, w.k, w.v, w.q_bias, w.k_bias, w.v_bias, w.o, w.post_norm, w.gate, w.up, w.down})
      tensor(t);
  const ModelConfig& c = m.config;
  for (int64_t v : {c.hidden_size, c.intermediate_size, c.num_layers, c.num_heads, c.num_kv_heads, c.head_dim,
                    c.vocab_size, l.block_tokens, l.pages_per_block, l.rows_per_page, l.kv_dim, chunk_tokens})
    h.add(static_cast<uint64_t>(v));
  h.add(plan.bytes);
  h.add(l.row_bytes);
  h.add(l.page_bytes);
  h.add_double(c.rms_norm_eps);
  return h.h;
}

}  // namespace

size_t CudaBackend::slot_bytes(const Model& model, size_t weight_bytes) const {
  (void)weight_bytes;
  return align256(plan_weights(model).bytes + inv_freq_bytes(model.config));
}

std::shared_ptr<CudaBackend::Slot> CudaBackend::get_slot(int slot) const {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  if (slot < 0 || static_cast<size_t>(slot) >= slots_.size() || !slots_[slot])
    throw EngineError("internal", "no model in slot " + std::to_string(slot));
  return slots_[slot];
}

std::string CudaBackend::slot_label(int slot) const {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  const bool held = slot >= 0 && static_cast<size_t>(slot) < slots_.size() && slots_[slot];
  return "slot " + std::to_string(slot) + (held ? " (" + slots_[slot]->model->dir + ")" : " (empty)");
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

// Picks an arena region and a slot id for `slot` (slots_mutex_ held): the home of a free id whose last model
// had this shape, when that region is still free (its graphs stay valid); else first fit, under an id that
// never held a model or, failing that, the one vacated longest ago. -1 when the arena has no room.
int CudaBackend::place_slot(const std::shared_ptr<Slot>& slot) {
  int id = -1;
  for (size_t i = 0; i < slots_.size() && id < 0; i++) {
    const SlotHome& home = homes_[i];
    if (!slots_[i] && home.shape == slot->shape && home.bytes == slot->bytes &&
        arena_.allocate_at(home.weights, slot->bytes)) {
      slot->weights = home.weights;
      id = static_cast<int>(i);
    }
  }
  if (id < 0) {
    slot->weights = arena_.allocate(slot->bytes);
    if (!slot->weights) return -1;
    for (size_t i = 0; i < slots_.size(); i++)
      if (!slots_[i] && (id < 0 || homes_[i].vacated < homes_[id].vacated)) id = static_cast<int>(i);
    if (id < 0) {
      slots_.emplace_back();
      homes_.emplace_back();
      id = static_cast<int>(slots_.size() - 1);
    }
  }
  Hasher h;
  h.add(slot->shape);
  h.add(reinterpret_cast<uintptr_t>(slot->weights));
  slot->geometry = h.h;
  slots_[id] = slot;  // taken while its weights copy; no forward sees the id before load_slot returns it
  return id;
}

// The weights (on the pager's stream), then the RoPE frequencies behind them.
void CudaBackend::copy_weights(Slot& slot, LoadStats& st) {
  const ModelConfig& c = slot.model->config;
  st = pager_.load(*slot.model, slot.plan, slot.weights);
  std::vector<float> inv_freq(c.head_dim / 2);
  for (int i = 0; i < c.head_dim / 2; i++)  // as the CPU backend (and HF) computes it: f32 pow
    inv_freq[i] = 1.0f / std::pow(static_cast<float>(c.rope_theta), static_cast<float>(2 * i) / c.head_dim);
  slot.inv_freq = reinterpret_cast<float*>(slot.weights + slot.plan.bytes);
  CUDA_TRY(cudaMemcpyAsync(slot.inv_freq, inv_freq.data(), inv_freq.size() * sizeof(float), cudaMemcpyHostToDevice,
                           pager_.stream()));
  CUDA_TRY(cudaStreamSynchronize(pager_.stream()));
  build_views(slot);
}

int CudaBackend::load_slot(const Model& model, const KvLayout& layout) {
  return in_phase(
      [&] { return "loading " + model.dir + " into the weights arena"; },
      [&] {
        const auto t0 = std::chrono::steady_clock::now();
        CUDA_TRY(cudaSetDevice(device_));
        if (!reservation_) throw EngineError("internal", "init_memory must come before load_slot");
        const ModelConfig& c = model.config;
        for (int dim : {c.hidden_size, c.q_dim(), c.kv_dim(), c.intermediate_size})
          if (dim % 8 != 0) throw EngineError("unsupported", "CUDA backend needs model dimensions divisible by 8");
        if (c.head_dim % 2 != 0 || c.head_dim > 256)
          throw EngineError("unsupported", "CUDA backend needs an even head_dim <= 256");
        if (layout.row_bytes != static_cast<size_t>(c.kv_dim()) * kv_element_bytes())
          throw EngineError("internal", "KV layout was not made for bf16 elements");
        auto slot = std::make_shared<Slot>();
        slot->model = &model;
        slot->layout = layout;
        slot->plan = plan_weights(model);
        slot->act = activation_type(model);
        slot->chunk_tokens = chunk_tokens_for(c, slot->act);
        slot->bytes = align256(slot->plan.bytes + inv_freq_bytes(c));
        slot->shape = slot_shape(model, slot->plan, layout, slot->chunk_tokens);
        int id = -1;
        {
          std::lock_guard<std::mutex> lock(slots_mutex_);
          id = place_slot(slot);
        }
        if (id < 0)
          throw EngineError("out_of_memory", "weights arena: model needs " + std::to_string(slot->bytes) +
                                                 " bytes, largest free run is " +
                                                 std::to_string(arena_.largest_free()) + " of " +
                                                 std::to_string(arena_.capacity()));
        LoadStats st;
        try {
          copy_weights(*slot, st);
        } catch (...) {
          std::lock_guard<std::mutex> lock(slots_mutex_);
          slots_[id] = nullptr;
          arena_.release(slot->weights);  // the mapping stays pinned until release_host
          throw;
        }
        st.total_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
        st.fixed_ms = std::max(0.0, st.total_ms - st.copy_ms);
        std::fprintf(stderr,
                     "cuda: load %s into slot %d: %.1f MiB in %.1f ms (copy %.1f ms, %.1f GB/s, %s%s, %s, %d copies); "
                     "fixed overhead %.2f ms (pin %.2f ms)\n",
                     model.dir.c_str(), id, st.bytes / 1048576.0, st.total_ms, st.copy_ms, st.gbps(),
                     st.pinned ? "pinned mapping" : "staging ring: ", st.staging_reason.c_str(),
                     st.per_tensor ? "per tensor" : "one span per file", st.copies, st.fixed_ms, st.pin_ms);
        std::lock_guard<std::mutex> lock(slots_mutex_);
        homes_[id] = SlotHome{slot->weights, slot->bytes, slot->shape, 0};
        last_load_ = st;
        return id;
      });
}

void CudaBackend::free_slot(int slot_id) {
  in_phase([&] { return "freeing " + slot_label(slot_id); },
           [&] {
             CUDA_TRY(cudaSetDevice(device_));
             std::shared_ptr<Slot> slot;
             {
               std::lock_guard<std::mutex> lock(slots_mutex_);
               if (slot_id < 0 || static_cast<size_t>(slot_id) >= slots_.size() || !slots_[slot_id]) return;
               slot = std::move(slots_[slot_id]);
               homes_[slot_id].vacated = ++vacated_count_;
             }
             CUDA_TRY(cudaStreamSynchronize(compute_));  // no kernel still reads these weights
             arena_.release(slot->weights);              // graphs stay; the host mapping stays pinned for the next load
           });
}

}  // namespace tidepool::cuda
