// The model's `config.json`, reduced to what the forward pass needs. Built only through
// parse_model_config, which checks every invariant and throws EngineError("bad_model") naming the field.
#pragma once

#include <cstdint>
#include <string>

namespace tidepool {

enum class Architecture { Llama, Qwen2 };

struct ModelConfig {
  Architecture architecture = Architecture::Llama;
  std::string architecture_name;
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_layers = 0;
  int num_heads = 0;
  int num_kv_heads = 0;
  int head_dim = 0;
  int vocab_size = 0;
  int max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool tie_word_embeddings = false;
  std::string torch_dtype;  // advisory; each tensor's own dtype wins

  int q_dim() const { return num_heads * head_dim; }
  int kv_dim() const { return num_kv_heads * head_dim; }
};

ModelConfig parse_model_config(const std::string& json_text);

}  // namespace tidepool
