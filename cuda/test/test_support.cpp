#include "test_support.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <random>

#include "cpu/cpu_ops.h"
#include "json.h"

namespace tidepool::testing {

std::string make_temp_dir(const std::string& tag) {
  std::string templ = "/tmp/tidepool-" + tag + "-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  CHECK(::mkdtemp(buf.data()) != nullptr);
  return buf.data();
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  CHECK(out.good());
}

namespace {

uint16_t float_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  bits += 0x7FFF + ((bits >> 16) & 1);  // round to nearest even
  return static_cast<uint16_t>(bits >> 16);
}

uint16_t float_to_half(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = (x >> 16) & 0x8000;
  const int32_t exp = static_cast<int32_t>((x >> 23) & 0xFF) - 127 + 15;
  uint32_t mant = x & 0x7FFFFF;
  if (exp >= 31) return sign | 0x7C00;
  if (exp <= 0) {  // subnormal half
    if (exp < -10) return sign;
    mant |= 0x800000;
    const int shift = 14 - exp;
    uint32_t h = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (h & 1))) h++;
    return static_cast<uint16_t>(sign | h);
  }
  uint32_t h = (static_cast<uint32_t>(exp) << 10) | (mant >> 13), rem = mant & 0x1FFF;
  if (rem > 0x1000 || (rem == 0x1000 && (h & 1))) h++;
  return static_cast<uint16_t>(sign | h);
}

struct Pending {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> values;
};

}  // namespace

void write_synthetic_model(const std::string& dir, const SynthSpec& s) {
  const int hd = s.hidden / s.heads, q = s.heads * hd, kv = s.kv_heads * hd;
  std::mt19937_64 rng(s.seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<Pending> tensors;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, float scale, float offset) {
    Pending p{name, shape, {}};
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    for (int64_t i = 0; i < n; i++) p.values.push_back(offset + scale * normal(rng));
    tensors.push_back(std::move(p));
  };
  add("model.embed_tokens.weight", {s.vocab, s.hidden}, 1.0f, 0);
  for (int l = 0; l < s.layers; l++) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    add(p + "input_layernorm.weight", {s.hidden}, 0.1f, 1.0f);
    add(p + "self_attn.q_proj.weight", {q, s.hidden}, 1.0f / std::sqrt(float(s.hidden)), 0);
    add(p + "self_attn.k_proj.weight", {kv, s.hidden}, 1.0f / std::sqrt(float(s.hidden)), 0);
    add(p + "self_attn.v_proj.weight", {kv, s.hidden}, 1.0f / std::sqrt(float(s.hidden)), 0);
    if (s.qkv_bias) {
      add(p + "self_attn.q_proj.bias", {q}, 0.1f, 0);
      add(p + "self_attn.k_proj.bias", {kv}, 0.1f, 0);
      add(p + "self_attn.v_proj.bias", {kv}, 0.1f, 0);
    }
    add(p + "self_attn.o_proj.weight", {s.hidden, q}, 3.0f / std::sqrt(float(q)), 0);
    add(p + "post_attention_layernorm.weight", {s.hidden}, 0.1f, 1.0f);
    add(p + "mlp.gate_proj.weight", {s.intermediate, s.hidden}, 1.0f / std::sqrt(float(s.hidden)), 0);
    add(p + "mlp.up_proj.weight", {s.intermediate, s.hidden}, 1.0f / std::sqrt(float(s.hidden)), 0);
    add(p + "mlp.down_proj.weight", {s.hidden, s.intermediate}, 3.0f / std::sqrt(float(s.intermediate)), 0);
  }
  add("model.norm.weight", {s.hidden}, 0.1f, 1.0f);
  if (!s.tie_embeddings) add("lm_head.weight", {s.vocab, s.hidden}, 3.0f / std::sqrt(float(s.hidden)), 0);

  const size_t elem = s.dtype == "F32" ? 4 : 2;
  Json header = Json::object();
  std::string data;
  for (const Pending& t : tensors) {
    Json entry = Json::object();
    entry.set("dtype", s.dtype);
    Json shape = Json::array();
    for (int64_t d : t.shape) shape.push(d);
    entry.set("shape", std::move(shape));
    Json offsets = Json::array();
    offsets.push(static_cast<int64_t>(data.size()));
    offsets.push(static_cast<int64_t>(data.size() + t.values.size() * elem));
    entry.set("data_offsets", std::move(offsets));
    header.set(t.name, std::move(entry));
    for (float v : t.values) {
      if (elem == 4) data.append(reinterpret_cast<const char*>(&v), 4);
      else {
        uint16_t h = s.dtype == "BF16" ? float_to_bf16(v) : float_to_half(v);
        data.append(reinterpret_cast<const char*>(&h), 2);
      }
    }
  }
  std::string head = header.dump();
  while ((8 + head.size()) % 8) head += ' ';
  std::string file;
  uint64_t n = head.size();
  for (int i = 0; i < 8; i++) file += static_cast<char>((n >> (8 * i)) & 0xFF);
  file += head + data;
  ::mkdir(dir.c_str(), 0755);
  write_file(dir + "/model.safetensors", file);

  Json cfg = Json::object();
  Json archs = Json::array();
  archs.push(s.architecture);
  cfg.set("architectures", std::move(archs));
  cfg.set("hidden_size", s.hidden);
  cfg.set("intermediate_size", s.intermediate);
  cfg.set("num_hidden_layers", s.layers);
  cfg.set("num_attention_heads", s.heads);
  cfg.set("num_key_value_heads", s.kv_heads);
  cfg.set("vocab_size", s.vocab);
  cfg.set("max_position_embeddings", s.max_positions);
  cfg.set("rope_theta", s.rope_theta);
  cfg.set("rms_norm_eps", s.rms_eps);
  cfg.set("tie_word_embeddings", s.tie_embeddings);
  cfg.set("torch_dtype", s.dtype == "F32" ? "float32" : s.dtype == "BF16" ? "bfloat16" : "float16");
  write_file(dir + "/config.json", cfg.dump());
}

namespace {

double element(const TensorView& t, int64_t i) {
  if (t.dtype == DType::F32) return reinterpret_cast<const float*>(t.data)[i];
  uint16_t h = reinterpret_cast<const uint16_t*>(t.data)[i];
  return t.dtype == DType::BF16 ? bf16_to_float(h) : half_to_float(h);
}

// y = W x (+ b), W (out, in)
std::vector<double> linear(const TensorView& w, const TensorView* b, const std::vector<double>& x) {
  const int64_t out = w.shape[0], in = w.shape[1];
  std::vector<double> y(out);
  for (int64_t o = 0; o < out; o++) {
    double s = b ? element(*b, o) : 0;
    for (int64_t i = 0; i < in; i++) s += element(w, o * in + i) * x[i];
    y[o] = s;
  }
  return y;
}

std::vector<double> norm(const TensorView& w, const std::vector<double>& x, double eps) {
  double ss = 0;
  for (double v : x) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / x.size() + eps);
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); i++) y[i] = element(w, i) * x[i] * inv;
  return y;
}

void rope_ref(std::vector<double>& v, int heads, int hd, int pos, double theta) {
  for (int h = 0; h < heads; h++)
    for (int i = 0; i < hd / 2; i++) {
      const double angle = pos * std::pow(theta, -2.0 * i / hd);
      double& a = v[h * hd + i];
      double& b = v[h * hd + i + hd / 2];
      const double na = a * std::cos(angle) - b * std::sin(angle), nb = b * std::cos(angle) + a * std::sin(angle);
      a = na;
      b = nb;
    }
}

}  // namespace

std::vector<std::vector<double>> reference_logits(const Model& m, const std::vector<int32_t>& tokens) {
  const ModelConfig& c = m.config;
  const int T = static_cast<int>(tokens.size()), hd = c.head_dim, group = c.num_heads / c.num_kv_heads;
  std::vector<std::vector<double>> x(T, std::vector<double>(c.hidden_size));
  for (int t = 0; t < T; t++)
    for (int i = 0; i < c.hidden_size; i++)
      x[t][i] = element(*m.embed, static_cast<int64_t>(tokens[t]) * c.hidden_size + i);
  for (const LayerWeights& w : m.layers) {
    std::vector<std::vector<double>> q(T), k(T), v(T);
    for (int t = 0; t < T; t++) {
      auto h = norm(*w.input_norm, x[t], c.rms_norm_eps);
      q[t] = linear(*w.q, w.q_bias, h);
      k[t] = linear(*w.k, w.k_bias, h);
      v[t] = linear(*w.v, w.v_bias, h);
      rope_ref(q[t], c.num_heads, hd, t, c.rope_theta);
      rope_ref(k[t], c.num_kv_heads, hd, t, c.rope_theta);
    }
    for (int t = 0; t < T; t++) {
      std::vector<double> att(c.q_dim(), 0.0);
      for (int h = 0; h < c.num_heads; h++) {
        const int kvh = h / group;
        std::vector<double> s(t + 1);
        double mx = -INFINITY, sum = 0;
        for (int j = 0; j <= t; j++) {
          double d = 0;
          for (int i = 0; i < hd; i++) d += q[t][h * hd + i] * k[j][kvh * hd + i];
          s[j] = d / std::sqrt(double(hd));
          mx = std::max(mx, s[j]);
        }
        for (int j = 0; j <= t; j++) sum += s[j] = std::exp(s[j] - mx);
        for (int j = 0; j <= t; j++)
          for (int i = 0; i < hd; i++) att[h * hd + i] += s[j] / sum * v[j][kvh * hd + i];
      }
      auto o = linear(*w.o, nullptr, att);
      for (int i = 0; i < c.hidden_size; i++) x[t][i] += o[i];
      auto h2 = norm(*w.post_norm, x[t], c.rms_norm_eps);
      auto g = linear(*w.gate, nullptr, h2), u = linear(*w.up, nullptr, h2);
      for (size_t i = 0; i < g.size(); i++) g[i] = g[i] / (1 + std::exp(-g[i])) * u[i];
      auto d = linear(*w.down, nullptr, g);
      for (int i = 0; i < c.hidden_size; i++) x[t][i] += d[i];
    }
  }
  std::vector<std::vector<double>> logits;
  for (int t = 0; t < T; t++) logits.push_back(linear(*m.lm_head, nullptr, norm(*m.final_norm, x[t], c.rms_norm_eps)));
  return logits;
}

std::vector<int32_t> reference_greedy(const Model& model, std::vector<int32_t> tokens, int n) {
  std::vector<int32_t> out;
  for (int i = 0; i < n; i++) {
    auto logits = reference_logits(model, tokens).back();
    int32_t best = 0;
    for (size_t j = 1; j < logits.size(); j++)
      if (logits[j] > logits[best]) best = static_cast<int32_t>(j);
    out.push_back(best);
    tokens.push_back(best);
  }
  return out;
}

}  // namespace tidepool::testing
