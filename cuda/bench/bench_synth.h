// Streams a random-weight model of a real shape (bf16) to disk for the engine benchmark: config.json and
// one model.safetensors written in 64 MiB pieces, so a 15 GB 7B shape never sits in memory twice.
// Values are small random bf16 (|w| in [2^-9, 2^-6)); norm weights are 1.0, biases small.
#pragma once

#include <sys/stat.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace tidepool::bench {

struct Shape {
  std::string name;
  int hidden, intermediate, layers, heads, kv_heads, vocab;
  bool bias, tied;
  double theta;
};

inline Shape shape_by_name(const std::string& n) {
  if (n == "qwen2.5-7b") return {n, 3584, 18944, 28, 28, 4, 152064, true, false, 1000000.0};
  if (n == "qwen2.5-1.5b") return {n, 1536, 8960, 28, 12, 2, 151936, true, true, 1000000.0};
  return {"qwen2.5-0.5b", 896, 4864, 24, 14, 2, 151936, true, true, 1000000.0};
}

struct SynthTensor {
  std::string name;
  std::vector<int64_t> shape;
  int kind;  // 0 weight, 1 norm (ones), 2 bias
  size_t bytes() const {
    size_t n = 2;
    for (int64_t d : shape) n *= static_cast<size_t>(d);
    return n;
  }
};

inline std::vector<SynthTensor> synth_tensors(const Shape& s) {
  const int64_t H = s.hidden, I = s.intermediate, hd = s.hidden / s.heads, Q = s.heads * hd, KV = s.kv_heads * hd;
  std::vector<SynthTensor> t = {{"model.embed_tokens.weight", {s.vocab, H}, 0}};
  for (int l = 0; l < s.layers; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    t.push_back({p + "input_layernorm.weight", {H}, 1});
    t.push_back({p + "self_attn.q_proj.weight", {Q, H}, 0});
    t.push_back({p + "self_attn.k_proj.weight", {KV, H}, 0});
    t.push_back({p + "self_attn.v_proj.weight", {KV, H}, 0});
    if (s.bias) {
      t.push_back({p + "self_attn.q_proj.bias", {Q}, 2});
      t.push_back({p + "self_attn.k_proj.bias", {KV}, 2});
      t.push_back({p + "self_attn.v_proj.bias", {KV}, 2});
    }
    t.push_back({p + "self_attn.o_proj.weight", {H, Q}, 0});
    t.push_back({p + "post_attention_layernorm.weight", {H}, 1});
    t.push_back({p + "mlp.gate_proj.weight", {I, H}, 0});
    t.push_back({p + "mlp.up_proj.weight", {I, H}, 0});
    t.push_back({p + "mlp.down_proj.weight", {H, I}, 0});
  }
  t.push_back({"model.norm.weight", {H}, 1});
  if (!s.tied) t.push_back({"lm_head.weight", {s.vocab, H}, 0});
  return t;
}

// Writes dir/config.json and dir/model.safetensors unless they already exist; returns false on I/O errors.
inline bool synthesize(const std::string& dir, const Shape& s, uint64_t seed) {
  ::mkdir(dir.c_str(), 0755);
  const std::string st_path = dir + "/model.safetensors";
  struct stat sb;
  if (::stat(st_path.c_str(), &sb) == 0 && ::stat((dir + "/config.json").c_str(), &sb) == 0) return true;
  FILE* cfg = std::fopen((dir + "/config.json").c_str(), "w");
  if (!cfg) return false;
  std::fprintf(cfg,
               "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":%d,\"intermediate_size\":%d,"
               "\"num_hidden_layers\":%d,\"num_attention_heads\":%d,\"num_key_value_heads\":%d,\"vocab_size\":%d,"
               "\"max_position_embeddings\":32768,\"rms_norm_eps\":1e-06,\"rope_theta\":%.1f,"
               "\"tie_word_embeddings\":%s,\"torch_dtype\":\"bfloat16\"}\n",
               s.hidden, s.intermediate, s.layers, s.heads, s.kv_heads, s.vocab, s.theta, s.tied ? "true" : "false");
  std::fclose(cfg);
  const std::vector<SynthTensor> tensors = synth_tensors(s);
  std::string header = "{";
  size_t offset = 0;
  for (size_t i = 0; i < tensors.size(); i++) {
    std::string shape;
    for (size_t d = 0; d < tensors[i].shape.size(); d++) shape += (d ? "," : "") + std::to_string(tensors[i].shape[d]);
    header += (i ? "," : "") + std::string("\"") + tensors[i].name + "\":{\"dtype\":\"BF16\",\"shape\":[" + shape +
              "],\"data_offsets\":[" + std::to_string(offset) + "," + std::to_string(offset + tensors[i].bytes()) + "]}";
    offset += tensors[i].bytes();
  }
  header += "}";
  while ((header.size() + 8) % 16) header += ' ';  // tensors stay 16-byte aligned in the mapping
  FILE* f = std::fopen((st_path + ".tmp").c_str(), "wb");
  if (!f) return false;
  const uint64_t hlen = header.size();
  std::fwrite(&hlen, 8, 1, f);
  std::fwrite(header.data(), 1, header.size(), f);
  std::vector<uint16_t> buf(size_t(32) << 20);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (const SynthTensor& t : tensors) {
    size_t left = t.bytes() / 2;
    while (left > 0) {
      const size_t n = std::min(left, buf.size());
      for (size_t i = 0; i < n; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;  // xorshift64
        const uint16_t r = static_cast<uint16_t>(x >> 32);
        buf[i] = t.kind == 1 ? 0x3F80 : static_cast<uint16_t>((r & 0x807F) | ((118 + ((r >> 8) & 3)) << 7));
      }
      if (std::fwrite(buf.data(), 2, n, f) != n) { std::fclose(f); return false; }
      left -= n;
    }
  }
  if (std::fclose(f) != 0) return false;
  return std::rename((st_path + ".tmp").c_str(), st_path.c_str()) == 0;
}

}  // namespace tidepool::bench
