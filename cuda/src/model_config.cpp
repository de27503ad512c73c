#include "model_config.h"

#include "errors.h"
#include "json.h"
#include "model_limits.h"

namespace tidepool {

namespace {

[[noreturn]] void bad(const std::string& what) { throw EngineError("bad_model", "config.json: " + what); }

// `max` comes from model_limits.h (cuda/model-limits.json), the table the control plane checks at deploy.
int get_int(const Json& cfg, const char* key, int fallback, bool required, int64_t max) {
  const Json* v = cfg.find(key);
  if (!v || v->is_null()) {
    if (required) bad(std::string("missing ") + key);
    return fallback;
  }
  if (!v->is_number()) bad(std::string(key) + " must be an integer");
  int64_t n = 0;
  try {
    n = v->as_int();
  } catch (const JsonError&) {
    bad(std::string(key) + " must be an integer");
  }
  if (n <= 0) bad(std::string(key) + " out of range");
  if (n > max) bad(std::string(key) + " " + std::to_string(n) + " exceeds the limit of " + std::to_string(max));
  return static_cast<int>(n);
}

double get_double(const Json& cfg, const char* key, double fallback) {
  const Json* v = cfg.find(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_number()) bad(std::string(key) + " must be a number");
  return v->as_double();
}

}  // namespace

ModelConfig parse_model_config(const std::string& json_text) {
  if (static_cast<int64_t>(json_text.size()) > limits::config_json_bytes)
    bad(std::to_string(json_text.size()) + " bytes exceeds the limit of " + std::to_string(limits::config_json_bytes));
  Json cfg;
  try {
    cfg = Json::parse(json_text);
  } catch (const JsonError& e) {
    bad(e.what());
  }
  if (!cfg.is_object()) bad("not an object");
  ModelConfig c;
  const Json* archs = cfg.find("architectures");
  if (!archs || !archs->is_array() || archs->size() == 0 || !archs->as_array()[0].is_string())
    bad("missing architectures");
  c.architecture_name = archs->as_array()[0].as_string();
  if (c.architecture_name == "LlamaForCausalLM") c.architecture = Architecture::Llama;
  else if (c.architecture_name == "Qwen2ForCausalLM") c.architecture = Architecture::Qwen2;
  else bad("unsupported architecture " + c.architecture_name + " (LlamaForCausalLM, Qwen2ForCausalLM)");

  c.hidden_size = get_int(cfg, "hidden_size", 0, true, limits::config_hidden_size);
  c.intermediate_size = get_int(cfg, "intermediate_size", 0, true, limits::config_intermediate_size);
  c.num_layers = get_int(cfg, "num_hidden_layers", 0, true, limits::config_num_hidden_layers);
  c.num_heads = get_int(cfg, "num_attention_heads", 0, true, limits::config_num_attention_heads);
  c.num_kv_heads = get_int(cfg, "num_key_value_heads", c.num_heads, false, limits::config_num_key_value_heads);
  c.vocab_size = get_int(cfg, "vocab_size", 0, true, limits::config_vocab_size);
  c.max_position_embeddings =
      get_int(cfg, "max_position_embeddings", 2048, false, limits::config_max_position_embeddings);
  if (c.hidden_size % c.num_heads != 0 && !cfg.find("head_dim"))
    bad("hidden_size not divisible by num_attention_heads");
  c.head_dim = get_int(cfg, "head_dim", c.hidden_size / c.num_heads, false, limits::config_head_dim);
  if (c.head_dim % 2 != 0) bad("head_dim must be even for RoPE");
  // q_dim() and kv_dim() are int products; an explicit head_dim could push them past INT_MAX.
  if (int64_t{c.num_heads} * c.head_dim > (1 << 30)) bad("num_attention_heads * head_dim out of range");
  if (c.num_heads % c.num_kv_heads != 0) bad("num_attention_heads not divisible by num_key_value_heads");
  c.rms_norm_eps = get_double(cfg, "rms_norm_eps", 1e-6);
  if (!(c.rms_norm_eps > 0)) bad("rms_norm_eps must be positive");
  c.rope_theta = get_double(cfg, "rope_theta", 10000.0);
  if (!(c.rope_theta > 1)) bad("rope_theta must be > 1");
  const Json* scaling = cfg.find("rope_scaling");
  if (scaling && !scaling->is_null()) bad("rope_scaling is not supported");
  const Json* tie = cfg.find("tie_word_embeddings");
  if (tie && tie->is_bool()) c.tie_word_embeddings = tie->as_bool();
  const Json* dtype = cfg.find("torch_dtype");
  if (!dtype) dtype = cfg.find("dtype");
  if (dtype && dtype->is_string()) c.torch_dtype = dtype->as_string();
  return c;
}

}  // namespace tidepool
