#include "model.h"

#include <dirent.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "errors.h"
#include "model_limits.h"

namespace tidepool {

namespace {

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw EngineError("bad_model", path + ": cannot read");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> list_safetensors(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) throw EngineError("bad_model", dir + ": cannot open model directory");
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    const std::string ext = ".safetensors";
    if (name.size() > ext.size() && name.compare(name.size() - ext.size(), ext.size(), ext) == 0)
      out.push_back(dir + "/" + name);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  if (out.empty()) throw EngineError("bad_model", dir + ": no *.safetensors files");
  if (static_cast<int64_t>(out.size()) > limits::safetensors_files)
    throw EngineError("bad_model", dir + ": " + std::to_string(out.size()) +
                                       " *.safetensors files exceed the limit of " +
                                       std::to_string(limits::safetensors_files));
  return out;
}

class TensorBinder {
 public:
  TensorBinder(const std::map<std::string, const TensorView*>& index, size_t& bytes) : index_(index), bytes_(bytes) {}

  const TensorView* require(const std::string& name, std::vector<int64_t> shape) {
    const TensorView* t = optional(name, std::move(shape));
    if (!t) throw EngineError("bad_model", "missing tensor " + name);
    return t;
  }

  const TensorView* optional(const std::string& name, std::vector<int64_t> shape) {
    auto it = index_.find(name);
    if (it == index_.end()) return nullptr;
    const TensorView* t = it->second;
    if (t->shape != shape) {
      TensorView expected;
      expected.shape = shape;
      throw EngineError("bad_model",
                        "tensor " + name + " has shape " + t->shape_string() + ", expected " + expected.shape_string());
    }
    if (t->dtype == DType::Other)
      throw EngineError("bad_model",
                        "tensor " + name + " has unsupported dtype " + t->dtype_label + " (F32, F16, BF16)");
    if (bound_.insert(t).second) bytes_ += t->bytes;
    return t;
  }

 private:
  const std::map<std::string, const TensorView*>& index_;
  std::set<const TensorView*> bound_;
  size_t& bytes_;
};

void bind_layers(Model& m, TensorBinder& bind) {
  const ModelConfig& c = m.config;
  const int64_t h = c.hidden_size, q = c.q_dim(), kv = c.kv_dim(), inter = c.intermediate_size;
  for (int i = 0; i < c.num_layers; i++) {
    const std::string p = "model.layers." + std::to_string(i) + ".";
    LayerWeights w;
    w.input_norm = bind.require(p + "input_layernorm.weight", {h});
    w.q = bind.require(p + "self_attn.q_proj.weight", {q, h});
    w.k = bind.require(p + "self_attn.k_proj.weight", {kv, h});
    w.v = bind.require(p + "self_attn.v_proj.weight", {kv, h});
    w.q_bias = bind.optional(p + "self_attn.q_proj.bias", {q});
    w.k_bias = bind.optional(p + "self_attn.k_proj.bias", {kv});
    w.v_bias = bind.optional(p + "self_attn.v_proj.bias", {kv});
    w.o = bind.require(p + "self_attn.o_proj.weight", {h, q});
    w.post_norm = bind.require(p + "post_attention_layernorm.weight", {h});
    w.gate = bind.require(p + "mlp.gate_proj.weight", {inter, h});
    w.up = bind.require(p + "mlp.up_proj.weight", {inter, h});
    w.down = bind.require(p + "mlp.down_proj.weight", {h, inter});
    m.layers.push_back(w);
  }
}

}  // namespace

void Model::prefault() const {
  for (const auto& f : files) f->prefault();
}

bool Model::unchanged_on_disk() const {
  for (const auto& f : files)
    if (!f->unchanged_on_disk()) return false;
  return true;
}

std::unique_ptr<Model> load_model_dir(const std::string& dir) {
  static std::atomic<uint64_t> next_mapping_id{1};
  auto m = std::make_unique<Model>();
  m->dir = dir;
  m->mapping_id = next_mapping_id++;
  m->config = parse_model_config(read_text_file(dir + "/config.json"));
  std::map<std::string, const TensorView*> index;
  for (const std::string& path : list_safetensors(dir)) {
    m->files.push_back(SafetensorsFile::open(path));
    for (const TensorView& t : m->files.back()->tensors()) {
      if (!index.emplace(t.name, &t).second)
        throw EngineError("bad_model", "tensor " + t.name + " appears in two files");
    }
  }
  const ModelConfig& c = m->config;
  TensorBinder bind(index, m->weight_bytes);
  m->embed = bind.require("model.embed_tokens.weight", {c.vocab_size, c.hidden_size});
  m->final_norm = bind.require("model.norm.weight", {c.hidden_size});
  m->lm_head = bind.optional("lm_head.weight", {c.vocab_size, c.hidden_size});
  if (!m->lm_head) m->lm_head = m->embed;
  bind_layers(*m, bind);
  return m;
}

}  // namespace tidepool
