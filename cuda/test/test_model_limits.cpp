// The engine enforces the shared model limits (cuda/model-limits.json, also read by the control plane's
// validators): each config.json dimension is accepted at its limit and refused one above it with a
// bad_model error naming the field, and the safetensors parser refuses a header past its byte, rank and
// tensor-count limits. The control plane's side is test/unit/models/model-limits.test.ts.
#include <cstdint>
#include <functional>
#include <iostream>
#include <string>

#include "errors.h"
#include "model_config.h"
#include "model_limits.h"
#include "safetensors.h"
#include "test_support.h"

using namespace tidepool;

namespace {

// A consistent config where one field is overridden; heads are chosen so that the overridden value still
// divides what it must (hidden_size by heads, heads by kv heads) and head_dim stays even.
std::string config_with(const std::string& field, int64_t value) {
  int64_t hidden = 64, heads = 4, kv = 2, head_dim = 16;
  if (field == "hidden_size") hidden = value;
  if (field == "num_attention_heads") {
    heads = value;
    kv = value;
    hidden = 2 * value;
    head_dim = 2;
  }
  if (field == "num_key_value_heads") {
    heads = limits::config_num_attention_heads;
    kv = value;
    hidden = 2 * heads;
    head_dim = 2;
  }
  if (field == "head_dim") {
    head_dim = value;
    hidden = 2 * value;
    heads = 2;
    kv = 2;
  }
  auto num = [&](const char* key, int64_t fallback) {
    return std::string("\"") + key + "\":" + std::to_string(field == key ? value : fallback) + ",";
  };
  return std::string("{\"architectures\":[\"LlamaForCausalLM\"],") + num("hidden_size", hidden) +
         num("intermediate_size", 128) + num("num_hidden_layers", 2) + num("num_attention_heads", heads) +
         num("num_key_value_heads", kv) + num("head_dim", head_dim) + num("vocab_size", 320) +
         num("max_position_embeddings", 256) + "\"rope_theta\":10000}";
}

bool refused(const std::function<void()>& fn, const std::string& needle) {
  try {
    fn();
  } catch (const EngineError& e) {
    const bool named = e.code() == "bad_model" && std::string(e.what()).find(needle) != std::string::npos;
    if (!named) std::cerr << "  wrong refusal: " << e.what() << " (wanted '" << needle << "')\n";
    return named;
  }
  return false;
}

std::string image(const std::string& header, uint64_t claimed_length) {
  std::string out;
  for (int i = 0; i < 8; i++) out += static_cast<char>((claimed_length >> (8 * i)) & 0xFF);
  return out + header;
}

std::vector<TensorView> parse(const std::string& bytes) {
  return parse_safetensors(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size(), "limits.safetensors");
}

}  // namespace

int main() {
  const std::pair<const char*, int64_t> fields[] = {
      {"hidden_size", limits::config_hidden_size},
      {"intermediate_size", limits::config_intermediate_size},
      {"num_hidden_layers", limits::config_num_hidden_layers},
      {"num_attention_heads", limits::config_num_attention_heads},
      {"num_key_value_heads", limits::config_num_key_value_heads},
      {"head_dim", limits::config_head_dim},
      {"vocab_size", limits::config_vocab_size},
      {"max_position_embeddings", limits::config_max_position_embeddings},
  };
  for (const auto& [field, limit] : fields) {
    const ModelConfig at = parse_model_config(config_with(field, limit));
    CHECK(at.hidden_size > 0);
    // An odd value over an even limit would also trip the divisibility checks; one above the limit, rounded
    // up to even, keeps the refusal about the limit.
    const int64_t over = (limit + 2) / 2 * 2;
    CHECK(refused([&] { parse_model_config(config_with(field, over)); },
                  std::string(field) + " " + std::to_string(over) + " exceeds the limit"));
    std::cout << "  " << field << ": " << limit << " accepted, " << over << " refused\n";
  }
  CHECK(refused([] { parse_model_config(std::string(limits::config_json_bytes + 1, ' ')); }, "exceeds the limit"));

  const uint64_t too_long = static_cast<uint64_t>(limits::safetensors_header_bytes) + 1;
  CHECK(refused([&] { parse(image("{}", too_long) + std::string(too_long, ' ')); }, "exceeds the limit"));
  std::string rank = "[";
  for (int64_t i = 0; i <= limits::safetensors_rank; i++) rank += i ? ",1" : "1";
  rank += "]";
  const std::string ranked = R"({"t":{"dtype":"F32","shape":)" + rank + R"(,"data_offsets":[0,4]}})";
  CHECK(refused([&] { parse(image(ranked, ranked.size()) + std::string(4, '\0')); }, "rank"));
  std::string many = "{";
  for (int64_t i = 0; i <= limits::safetensors_tensors; i++)
    many += (i ? "," : "") + std::string("\"t") + std::to_string(i) +
            R"(":{"dtype":"F32","shape":[0],"data_offsets":[0,0]})";
  many += "}";
  CHECK(refused([&] { parse(image(many, many.size())); }, "exceed the limit"));
  std::cout << "test_model_limits: ok\n";
  return 0;
}
