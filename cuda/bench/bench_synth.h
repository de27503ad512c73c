// Streams a random-weight model of a real shape (bf16) to disk for the engine benchmark, in the layout the
// Hugging Face safetensors library writes: shards of at most 4 GiB (model-0000i-of-0000n.safetensors plus
// model.safetensors.index.json; one model.safetensors when it fits), tensors sorted by name inside a
// shard, a `__metadata__` entry, and a header padded with spaces to a multiple of 8 bytes only. The data
// then starts 8 bytes past a 16-byte boundary, as it does in many real checkpoints, so the engine takes
// its per-tensor copy path and the benchmark measures that path. Shards are written in parallel, 32 MiB
// at a time, so a 15 GB 7B shape never sits in memory. Values are small random bf16 (|w| in [2^-9, 2^-6));
// norm weights are 1.0. config.json is written last: its presence means the model is complete.
#pragma once

#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <string>
#include <thread>
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

constexpr size_t kMaxShardBytes = size_t(4) << 30;

// Tensors in state-dict order cut into shards of at most max_bytes; each shard sorted by name.
inline std::vector<std::vector<SynthTensor>> shard_tensors(const std::vector<SynthTensor>& all, size_t max_bytes) {
  std::vector<std::vector<SynthTensor>> shards(1);
  size_t bytes = 0;
  for (const SynthTensor& t : all) {
    if (bytes > 0 && bytes + t.bytes() > max_bytes) {
      shards.emplace_back();
      bytes = 0;
    }
    shards.back().push_back(t);
    bytes += t.bytes();
  }
  for (auto& shard : shards)
    std::sort(shard.begin(), shard.end(), [](const SynthTensor& a, const SynthTensor& b) { return a.name < b.name; });
  return shards;
}

inline std::string shard_name(size_t i, size_t n) {
  if (n == 1) return "model.safetensors";
  char name[64];
  std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", i + 1, n);
  return name;
}

// The header as the safetensors library lays it out: JSON, then spaces to a multiple of 8 bytes. This one
// is padded to a multiple of 16, so the data starts at 8 (mod 16): the unaligned case, on purpose.
inline std::string shard_header(const std::vector<SynthTensor>& tensors) {
  std::string header = "{\"__metadata__\":{\"format\":\"pt\"}";
  size_t offset = 0;
  for (const SynthTensor& t : tensors) {
    std::string shape;
    for (size_t d = 0; d < t.shape.size(); d++) shape += (d ? "," : "") + std::to_string(t.shape[d]);
    header += ",\"" + t.name + "\":{\"dtype\":\"BF16\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(offset) + "," + std::to_string(offset + t.bytes()) + "]}";
    offset += t.bytes();
  }
  header += "}";
  while (header.size() % 16 != 0) header += ' ';
  return header;
}

inline bool write_shard(const std::string& path, const std::vector<SynthTensor>& tensors, uint64_t seed) {
  const std::string header = shard_header(tensors);
  FILE* f = std::fopen((path + ".tmp").c_str(), "wb");
  if (!f) return false;
  const uint64_t hlen = header.size();
  bool ok = std::fwrite(&hlen, 8, 1, f) == 1 && std::fwrite(header.data(), 1, header.size(), f) == header.size();
  std::vector<uint16_t> buf(size_t(16) << 20);
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (const SynthTensor& t : tensors) {
    for (size_t left = t.bytes() / 2; ok && left > 0;) {
      const size_t n = std::min(left, buf.size());
      for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;  // xorshift64
        const uint16_t r = static_cast<uint16_t>(x >> 32);
        buf[i] = t.kind == 1 ? 0x3F80 : static_cast<uint16_t>((r & 0x807F) | ((118 + ((r >> 8) & 3)) << 7));
      }
      ok = std::fwrite(buf.data(), 2, n, f) == n;
      left -= n;
    }
  }
  ok = std::fclose(f) == 0 && ok;
  return ok && std::rename((path + ".tmp").c_str(), path.c_str()) == 0;
}

inline bool write_index(const std::string& dir, const std::vector<std::vector<SynthTensor>>& shards) {
  if (shards.size() == 1) return true;
  size_t total = 0;
  std::string map;
  for (size_t i = 0; i < shards.size(); i++)
    for (const SynthTensor& t : shards[i]) {
      total += t.bytes();
      map += std::string(map.empty() ? "" : ",") + "\"" + t.name + "\":\"" + shard_name(i, shards.size()) + "\"";
    }
  FILE* f = std::fopen((dir + "/model.safetensors.index.json").c_str(), "w");
  if (!f) return false;
  std::fprintf(f, "{\"metadata\":{\"total_size\":%zu},\"weight_map\":{%s}}\n", total, map.c_str());
  return std::fclose(f) == 0;
}

// Writes the model into dir unless config.json says a complete one is there; false on I/O errors.
inline bool synthesize(const std::string& dir, const Shape& s, uint64_t seed, size_t max_shard_bytes = kMaxShardBytes) {
  ::mkdir(dir.c_str(), 0755);
  struct stat sb;
  if (::stat((dir + "/config.json").c_str(), &sb) == 0) return true;
  const auto shards = shard_tensors(synth_tensors(s), max_shard_bytes);
  std::atomic<bool> ok{true};
  std::vector<std::thread> writers;
  for (size_t i = 0; i < shards.size(); i++)
    writers.emplace_back([&, i] {
      if (!write_shard(dir + "/" + shard_name(i, shards.size()), shards[i], seed * 1000 + i)) ok = false;
    });
  for (std::thread& w : writers) w.join();
  if (!ok || !write_index(dir, shards)) return false;
  FILE* cfg = std::fopen((dir + "/config.json.tmp").c_str(), "w");
  if (!cfg) return false;
  std::fprintf(cfg,
               "{\"architectures\":[\"Qwen2ForCausalLM\"],\"hidden_size\":%d,\"intermediate_size\":%d,"
               "\"num_hidden_layers\":%d,\"num_attention_heads\":%d,\"num_key_value_heads\":%d,\"vocab_size\":%d,"
               "\"max_position_embeddings\":32768,\"rms_norm_eps\":1e-06,\"rope_theta\":%.1f,"
               "\"tie_word_embeddings\":%s,\"torch_dtype\":\"bfloat16\"}\n",
               s.hidden, s.intermediate, s.layers, s.heads, s.kv_heads, s.vocab, s.theta, s.tied ? "true" : "false");
  if (std::fclose(cfg) != 0) return false;
  return std::rename((dir + "/config.json.tmp").c_str(), (dir + "/config.json").c_str()) == 0;
}

}  // namespace tidepool::bench
