// Fuzz target: parse_model_config on arbitrary text. It must either throw EngineError("bad_model") naming
// config.json, or return a config whose invariants hold, including the derived sizes the loader and the KV
// cache compute from it (q_dim, kv_dim, per-layer weight shapes) without overflowing.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "errors.h"
#include "fuzz_check.h"
#include "model_config.h"

using namespace tidepool;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const ModelConfig c = parse_model_config(text);
    FUZZ_CHECK(c.hidden_size > 0 && c.intermediate_size > 0 && c.num_layers > 0 && c.vocab_size > 0);
    FUZZ_CHECK(c.num_heads > 0 && c.num_kv_heads > 0 && c.num_heads % c.num_kv_heads == 0);
    FUZZ_CHECK(c.head_dim > 0 && c.head_dim % 2 == 0);
    FUZZ_CHECK(c.max_position_embeddings > 0);
    FUZZ_CHECK(c.rms_norm_eps > 0 && c.rope_theta > 1);
    // The loader and the KV cache use these in int and int64 arithmetic. Checked without overflow first, so
    // plain g++ builds catch what UBSan reports under libFuzzer.
    int q_dim = 0, kv_dim = 0;
    FUZZ_CHECK(!__builtin_mul_overflow(c.num_heads, c.head_dim, &q_dim));
    FUZZ_CHECK(!__builtin_mul_overflow(c.num_kv_heads, c.head_dim, &kv_dim));
    FUZZ_CHECK(c.q_dim() == q_dim && c.kv_dim() == kv_dim && kv_dim <= q_dim);
    const int64_t layer_weights = int64_t{c.q_dim()} * c.hidden_size * 2 + int64_t{c.kv_dim()} * c.hidden_size * 2 +
                                  int64_t{c.intermediate_size} * c.hidden_size * 3;
    FUZZ_CHECK(layer_weights > 0);
  } catch (const EngineError& e) {
    FUZZ_CHECK(e.code() == "bad_model");
    FUZZ_CHECK(std::strncmp(e.what(), "config.json: ", 13) == 0);
  }
  return 0;
}
