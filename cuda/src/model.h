// A loaded model: its config, its mapped safetensors files and typed views of every weight the forward
// pass reads. Built by load_model_dir, which validates every tensor's presence and shape against the
// config; a Model that exists is complete and consistent.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model_config.h"
#include "safetensors.h"

namespace tidepool {

struct LayerWeights {
  const TensorView* input_norm = nullptr;  // (hidden)
  const TensorView* q = nullptr;           // (heads*head_dim, hidden)
  const TensorView* k = nullptr;           // (kv_heads*head_dim, hidden)
  const TensorView* v = nullptr;           // (kv_heads*head_dim, hidden)
  const TensorView* q_bias = nullptr;      // (heads*head_dim) or null
  const TensorView* k_bias = nullptr;      // (kv_heads*head_dim) or null
  const TensorView* v_bias = nullptr;      // (kv_heads*head_dim) or null
  const TensorView* o = nullptr;           // (hidden, heads*head_dim)
  const TensorView* post_norm = nullptr;   // (hidden)
  const TensorView* gate = nullptr;        // (intermediate, hidden)
  const TensorView* up = nullptr;          // (intermediate, hidden)
  const TensorView* down = nullptr;        // (hidden, intermediate)
};

struct Model {
  std::string dir;
  uint64_t mapping_id = 0;  // unique per load_model_dir call in this process, never reused: keys host pins
  ModelConfig config;
  std::vector<std::unique_ptr<SafetensorsFile>> files;
  const TensorView* embed = nullptr;       // (vocab, hidden)
  const TensorView* final_norm = nullptr;  // (hidden)
  const TensorView* lm_head = nullptr;     // (vocab, hidden); the embedding when tied or absent
  std::vector<LayerWeights> layers;
  size_t weight_bytes = 0;  // bytes of the tensors above, counted once

  void prefault() const;
  // Every mapped file is still the one on disk (see SafetensorsFile::unchanged_on_disk).
  bool unchanged_on_disk() const;
};

// Maps `dir/config.json` and every `dir/*.safetensors`. Throws EngineError("bad_model") naming the file
// or tensor that is missing, mis-shaped or truncated.
std::unique_ptr<Model> load_model_dir(const std::string& dir);

}  // namespace tidepool
