// The CUDA backend end to end, against the CPU backend emulating its precision (bf16 KV, activations in the
// weights' dtype: backends/precision.h) through the same EngineCore step loop:
//   - logits of every prompt position for each fixture model (f32, bf16, f16; Llama and Qwen2) and for a
//     synthesized qwen2.5-0.5b shape (real widths, 4 layers, bf16, QKV bias, tied embeddings), long enough
//     that prefill takes the tensor-core path;
//   - greedy tokens identical to the CPU backend for the tiny fixtures;
//   - park/restore in the middle of generation: same tokens and bit-identical logits as without;
//   - two models interleaved token by token: each equals its uninterrupted run;
//   - sampled (temperature/top-p, seeded) generation repeats exactly;
//   - a captured decode graph has exactly decode_step_launches() nodes (launches per step, docs/cuda.md);
//   - embeddings (forward_hidden), mean- and last-pooled, match the CPU backend's.
// Each engine reserves 2 GiB of the device (its memory budget). Prints "SKIP: <reason>" and exits 77 only
// on a machine without a GPU (cuda_device.h); a broken CUDA setup fails.
#include <cuda_runtime_api.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "cuda_backend.h"
#include "cuda_device.h"
#include "engine_core.h"
#include "test_support.h"

using namespace tidepool;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::printf("%-60s %s\n", what.c_str(), ok ? "ok" : "FAIL");
  if (!ok) failures++;
}

double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); i++) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

EngineOptions engine_options() {
  EngineOptions o;
  o.block_tokens = 16;
  o.kv_page_bytes = 64 << 10;
  o.kv_budget_bytes = size_t(256) << 20;
  o.memory_budget_bytes = size_t(2) << 30;
  return o;
}

// The cpu backend emulates the cuda backend's roundings, so the two differ by summation order only.
std::unique_ptr<EngineCore> make_engine(const std::string& backend) {
  BackendOptions b;
  b.emulate_cuda_precision = backend == "cpu";
  return std::make_unique<EngineCore>(make_backend(backend, b), engine_options());
}

SequenceSpec spec(int64_t id, const std::string& model, std::vector<int32_t> prompt, int n, float temperature = 0) {
  SequenceSpec s;
  s.id = id;
  s.model = model;
  s.prompt = std::move(prompt);
  s.max_tokens = n;
  s.sampling.temperature = temperature;
  s.sampling.top_p = 0.9f;
  s.sampling.seed = 1234;
  s.want_logits = true;
  s.all_logits = true;
  return s;
}

struct Run {
  std::vector<float> prompt_logits;  // (prompt, vocab)
  std::vector<int32_t> tokens;
  std::vector<std::vector<float>> step_logits;  // last-position logits of each decode step
};

// Generates n tokens; parks and restores the sequence after `park_after` tokens when >= 0.
Run generate(const std::string& backend, const std::string& dir, const std::vector<int32_t>& prompt, int n,
             int park_after = -1, float temperature = 0) {
  auto engine = make_engine(backend);
  engine->install_model("m", load_model_dir(dir));
  engine->add(spec(1, "m", prompt, n, temperature));
  Run run;
  while (engine->has_sequences("m")) {
    StepResult r = engine->step("m");
    for (const TokenEvent& t : r.tokens) {
      if (run.tokens.empty()) run.prompt_logits = t.logits;
      else run.step_logits.push_back(t.logits);
      run.tokens.push_back(t.token);
    }
    for (const DoneEvent& d : r.done) CHECK(d.reason == "length");
    if (static_cast<int>(run.tokens.size()) == park_after && engine->find(1)) {
      engine->park(1);
      engine->restore(1);
    }
  }
  return run;
}

std::vector<int32_t> prompt_of(int n, int vocab, int salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; i++) p.push_back(static_cast<int32_t>((i * 7919 + salt * 131 + 17) % vocab));
  return p;
}

void test_fixture(const std::string& name) {
  const std::string dir = std::string(TIDEPOOL_REPO_ROOT) + "/test/fixtures/models/" + name;
  const std::vector<int32_t> prompt = {84, 105, 100, 101, 112, 111, 111, 108, 33};
  const Run cpu = generate("cpu", dir, prompt, 16), gpu = generate("cuda", dir, prompt, 16);
  const double rel = rel_l2(gpu.prompt_logits, cpu.prompt_logits);
  char line[160];
  std::snprintf(line, sizeof line, "%s: prompt logits vs cpu rel %.2e (<= 2e-2)", name.c_str(), rel);
  expect(rel <= 2e-2, line);
  expect(gpu.tokens == cpu.tokens, name + ": 16 greedy tokens equal the cpu backend's");
}

// Embedding sequences (forward_hidden): a prompt longer than a KV block, pooled both ways, as the cpu backend pools it.
std::vector<float> embedding(const std::string& backend, const std::string& dir, const std::vector<int32_t>& prompt,
                             Pooling pooling) {
  auto engine = make_engine(backend);
  engine->install_model("m", load_model_dir(dir));
  SequenceSpec s = spec(1, "m", prompt, 0);
  s.want_logits = s.all_logits = false;
  s.pooling = pooling;
  engine->add(s);
  StepResult r = engine->step("m");
  CHECK(r.done.size() == 1 && r.done[0].reason == "stop");
  return r.done[0].embedding;
}

void test_embeddings(const std::string& name) {
  const std::string dir = std::string(TIDEPOOL_REPO_ROOT) + "/test/fixtures/models/" + name;
  const std::vector<int32_t> prompt = prompt_of(70, 320, 3);
  for (const auto& [label, pooling] : {std::pair{"mean", Pooling::Mean}, std::pair{"last", Pooling::Last}}) {
    const double rel = rel_l2(embedding("cuda", dir, prompt, pooling), embedding("cpu", dir, prompt, pooling));
    char line[160];
    std::snprintf(line, sizeof line, "%s: %s embedding vs cpu rel %.2e (<= 1e-2)", name.c_str(), label, rel);
    expect(rel <= 1e-2, line);
  }
}

void test_qwen_shape() {
  testing::SynthSpec s;
  s.architecture = "Qwen2ForCausalLM";
  s.dtype = "BF16";
  s.qkv_bias = true;
  s.tie_embeddings = true;
  s.hidden = 896;
  s.intermediate = 4864;
  s.layers = 4;
  s.heads = 14;
  s.kv_heads = 2;
  s.vocab = 151936;
  s.max_positions = 4096;
  s.rope_theta = 1000000.0;
  s.rms_eps = 1e-6;
  const std::string dir = testing::make_temp_dir("cuda-qwen05");
  testing::write_synthetic_model(dir, s);
  const std::vector<int32_t> prompt = prompt_of(70, s.vocab, 3);  // 70 tokens: tensor-core prefill
  const Run cpu = generate("cpu", dir, prompt, 4), gpu = generate("cuda", dir, prompt, 4);
  const double rel = rel_l2(gpu.prompt_logits, cpu.prompt_logits);
  char line[160];
  std::snprintf(line, sizeof line, "qwen2.5-0.5b shape (4 layers): prompt logits rel %.2e (<= 2e-2)", rel);
  expect(rel <= 2e-2, line);
  double worst = 0;
  for (size_t i = 0; i < std::min(cpu.step_logits.size(), gpu.step_logits.size()); i++)
    worst = std::max(worst, rel_l2(gpu.step_logits[i], cpu.step_logits[i]));
  std::snprintf(line, sizeof line, "qwen2.5-0.5b shape: decode logits rel %.2e (<= 2e-2)", worst);
  expect(worst <= 2e-2 && gpu.step_logits.size() == cpu.step_logits.size(), line);
}

void test_park_restore(const std::string& name) {
  const std::string dir = std::string(TIDEPOOL_REPO_ROOT) + "/test/fixtures/models/" + name;
  const std::vector<int32_t> prompt = prompt_of(21, 256, 1);
  const Run plain = generate("cuda", dir, prompt, 24), parked = generate("cuda", dir, prompt, 24, 10);
  expect(plain.tokens == parked.tokens, name + ": park/restore after 10 tokens keeps the tokens");
  bool same = plain.step_logits.size() == parked.step_logits.size();
  for (size_t i = 0; same && i < plain.step_logits.size(); i++)
    same = std::memcmp(plain.step_logits[i].data(), parked.step_logits[i].data(), plain.step_logits[i].size() * 4) == 0;
  expect(same, name + ": park/restore logits bit-identical");
}

void test_interleave() {
  const std::string root = std::string(TIDEPOOL_REPO_ROOT) + "/test/fixtures/models/";
  const std::vector<int32_t> pa = prompt_of(13, 256, 2), pb = prompt_of(30, 256, 5);
  const Run a = generate("cuda", root + "tiny-llama-bf16", pa, 20),
            b = generate("cuda", root + "tiny-qwen2-f16", pb, 20);
  auto engine = make_engine("cuda");
  engine->install_model("a", load_model_dir(root + "tiny-llama-bf16"));
  engine->install_model("b", load_model_dir(root + "tiny-qwen2-f16"));
  engine->add(spec(1, "a", pa, 20));
  engine->add(spec(2, "b", pb, 20));
  std::vector<int32_t> ta, tb;
  while (engine->has_sequences("a") || engine->has_sequences("b")) {
    for (const char* m : {"a", "b"}) {
      if (!engine->has_sequences(m)) continue;
      for (const TokenEvent& t : engine->step(m).tokens) (t.seq == 1 ? ta : tb).push_back(t.token);
    }
  }
  expect(ta == a.tokens && tb == b.tokens, "two models interleaved token by token equal their solo runs");
}

// One decode step of a bf16 model and of an f32 one, captured as graphs: node counts vs the formula.
void test_launches_per_step() {
  const std::string root = std::string(TIDEPOOL_REPO_ROOT) + "/test/fixtures/models/";
  for (const char* name : {"tiny-llama-bf16", "tiny-qwen2"}) {
    auto backend = std::make_unique<cuda::CudaBackend>(BackendOptions{});
    cuda::CudaBackend* cuda_backend = backend.get();
    EngineCore engine(std::move(backend), engine_options());
    auto model = load_model_dir(root + name);
    const ModelConfig config = model->config;
    const cuda::WeightType act = model->lm_head->dtype == DType::BF16 ? cuda::WeightType::BF16 : cuda::WeightType::F32;
    engine.install_model("m", std::move(model));
    engine.add(spec(1, "m", prompt_of(9, 256, 4), 3));
    while (engine.has_sequences("m")) engine.step("m");
    const int want = cuda::decode_step_launches(config, act, 1);
    char line[160];
    std::snprintf(line, sizeof line, "%s: decode step graph has %zu nodes (decode_step_launches: %d)", name,
                  cuda_backend->last_graph_nodes(), want);
    expect(cuda_backend->last_graph_nodes() == static_cast<size_t>(want), line);
  }
}

void test_sampling_repeats() {
  const std::string dir = std::string(TIDEPOOL_REPO_ROOT) + "/test/fixtures/models/tiny-qwen2";
  const std::vector<int32_t> prompt = prompt_of(11, 256, 9);
  const Run x = generate("cuda", dir, prompt, 16, -1, 0.8f), y = generate("cuda", dir, prompt, 16, -1, 0.8f);
  expect(x.tokens == y.tokens, "seeded top-p sampling repeats on the cuda backend");
}

}  // namespace

int main() {
  if (const int gate = cuda::gpu_test_gate("cuda_backend_test")) return gate;  // skips only without a GPU
  for (const char* name : {"tiny-llama", "tiny-llama-bf16", "tiny-qwen2", "tiny-qwen2-f16"}) test_fixture(name);
  test_qwen_shape();
  test_park_restore("tiny-llama-bf16");
  test_park_restore("tiny-qwen2");
  test_interleave();
  test_sampling_repeats();
  test_launches_per_step();
  test_embeddings("tiny-qwen2");
  test_embeddings("tiny-llama-bf16");
  std::printf(failures ? "%d FAILED\n" : "all cuda backend tests passed\n", failures);
  return failures ? 1 : 0;
}
