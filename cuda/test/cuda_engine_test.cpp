// The CUDA backend on the paths cuda_backend_test leaves out, each against the CPU backend fed the same
// tokens (the CPU backend emulating the CUDA precision: relative L2 <= 2e-2 on logits) or bit-exact against
// itself:
//   - decode of many sequences at batch sizes 1..32 through captured graphs, after mixed prefills;
//   - graphs kept across an evict and a reload into the same slot (no new capture, identical logits), and
//     dropped when a model of another shape takes the slot;
//   - a prefill longer than one forward chunk (> 2048 tokens);
//   - a real-layout Hugging Face file (data 8 bytes off a 16-byte boundary: per-tensor copies), pinned and
//     through the staging ring (TIDEPOOL_CUDA_NO_PIN=1), bit-identical to each other;
//   - a load on another thread overlapping decode: the decoding model's logits stay bit-identical;
//   - a model larger than the weights arena: out_of_memory, and the arena still serves the next load.
// Skips (77) only on a machine without a GPU; the protocol-level paths are in cuda_protocol_test.
#include <atomic>
#include <thread>

#include "cuda_backend.h"
#include "cuda_device.h"
#include "gpu_test_support.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

constexpr size_t MiB = size_t(1) << 20;
constexpr double kTolerance = 2e-2;

SynthSpec small_qwen() {
  SynthSpec s;
  s.architecture = "Qwen2ForCausalLM";
  s.dtype = "BF16";
  s.qkv_bias = true;
  s.hidden = 256;
  s.intermediate = 512;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.vocab = 1024;
  s.max_positions = 4096;
  s.rope_theta = 1000000.0;
  s.seed = 11;
  return s;
}

SynthSpec other_llama() {
  SynthSpec s;
  s.dtype = "F16";
  s.hidden = 128;
  s.intermediate = 384;
  s.layers = 3;
  s.heads = 4;
  s.kv_heads = 4;
  s.vocab = 512;
  s.max_positions = 512;
  s.seed = 12;
  return s;
}

cuda::CudaBackend& cuda_of(Backend& b) { return dynamic_cast<cuda::CudaBackend&>(b); }

// B sequences of different prompt lengths prefilled in one mixed step, then `steps` decode steps; both
// backends get the CPU's greedy tokens. Returns the worst relative error; lens holds each sequence's length.
double run_batch(Lane& cpu, Lane& gpu, int B, int steps, std::vector<int>& lens) {
  const int vocab = cpu.model->config.vocab_size;
  std::vector<std::vector<int32_t>> tokens(B);
  std::vector<int> start(B, 0);
  lens.assign(B, 0);
  for (int s = 0; s < B; s++) {
    tokens[s] = prompt_tokens(3 + (s * 5) % 29, vocab, s + B);
    lens[s] = static_cast<int>(tokens[s].size());
  }
  std::vector<float> lc = cpu.step(tokens, start), lg = gpu.step(tokens, start);
  double worst = rel_l2(lg, lc);
  for (int step = 0; step < steps; step++) {
    for (int s = 0; s < B; s++) {
      tokens[s] = {argmax_row(lc, s, vocab)};
      start[s] = lens[s]++;
    }
    lc = cpu.step(tokens, start);
    lg = gpu.step(tokens, start);
    worst = std::max(worst, rel_l2(lg, lc));
  }
  return worst;
}

// A decode step of the first 8 sequences at their current positions (token 7): rerunning it rewrites the
// same K/V, so it is repeatable bit for bit.
std::vector<float> repeatable_step(Lane& lane, const std::vector<int>& lens) {
  std::vector<std::vector<int32_t>> tokens(8, std::vector<int32_t>{7});
  std::vector<int> start(lens.begin(), lens.begin() + 8);
  return lane.step(tokens, start);
}

void decode_graphs(const std::string& dir, const std::string& other_dir) {
  const auto model = load_model_dir(dir), other = load_model_dir(other_dir);
  auto cpu = open_backend("cpu", 1024 * MiB, 256 * MiB), gpu = open_backend("cuda", 1024 * MiB, 256 * MiB);
  Lane lc(*cpu, *model, 32, 64), lg(*gpu, *model, 32, 64);
  std::vector<int> lens;
  for (int B : {1, 3, 8, 9, 17, 32}) {
    const double rel = run_batch(lc, lg, B, 4, lens);
    expect(rel <= kTolerance,
           "batch " + std::to_string(B) + ": mixed prefill + 4 decode steps vs cpu" + fmt(", rel %.2e", rel));
  }
  const cuda::GraphStats g = cuda_of(*gpu).graph_stats();
  if (!cuda::sync_launches())
    expect(g.captures == 6 && g.replays == 24 && g.eager_fallbacks == 0,
           "one graph captured per batch size, replayed for every decode step, no eager fallback");

  const std::vector<float> before = repeatable_step(lg, lens);
  gpu->free_slot(lg.slot);
  const int reloaded = gpu->load_slot(*model, lg.layout);
  const std::vector<float> after = repeatable_step(lg, lens);
  const cuda::GraphStats r = cuda_of(*gpu).graph_stats();
  expect(reloaded == lg.slot && same_bits(before, after), "evict + reload: same slot, bit-identical decode logits");
  if (!cuda::sync_launches())
    expect(r.captures == g.captures && r.dropped == 0 && r.replays == g.replays + 2,
           "evict + reload: graphs replayed, none recaptured");

  gpu->free_slot(lg.slot);
  Lane oc(*cpu, *other, 8, 64), og(*gpu, *other, 8, 64, 1024);
  const double rel = run_batch(oc, og, 8, 3, lens);
  const cuda::GraphStats o = cuda_of(*gpu).graph_stats();
  expect(og.slot == lg.slot && rel <= kTolerance,
         "another shape in the same slot: decode vs cpu" + fmt(", rel %.2e", rel));
  if (!cuda::sync_launches())
    expect(o.dropped == static_cast<int64_t>(r.held) && o.captures == r.captures + 1,
           "its geometry differs: the slot's graphs were dropped");
}

void long_prefill(const std::string& dir) {
  const auto model = load_model_dir(dir);
  auto cpu = open_backend("cpu", 1024 * MiB, 256 * MiB), gpu = open_backend("cuda", 1024 * MiB, 256 * MiB);
  Lane lc(*cpu, *model, 1, 2700), lg(*gpu, *model, 1, 2700);
  const int vocab = model->config.vocab_size, n = 2600;  // two forward chunks (kMaxChunkTokens = 2048)
  const std::vector<std::vector<int32_t>> prompt = {prompt_tokens(n, vocab, 5)};
  const std::vector<float> pc = lc.step(prompt, {0}, true), pg = lg.step(prompt, {0}, true);
  const std::vector<float> tail_c(pc.begin() + 2048 * vocab, pc.end()), tail_g(pg.begin() + 2048 * vocab, pg.end());
  expect(rel_l2(pg, pc) <= kTolerance && rel_l2(tail_g, tail_c) <= kTolerance,
         "prefill of 2600 tokens (2 chunks): every row vs cpu" + fmt(", rel %.2e", rel_l2(pg, pc)) +
             fmt(", rows past 2048 %.2e", rel_l2(tail_g, tail_c)));
  const std::vector<std::vector<int32_t>> next = {{argmax_row(pc, n - 1, vocab)}};
  const double rel = rel_l2(lg.step(next, {n}), lc.step(next, {n}));
  expect(rel <= kTolerance, "decode after it attends to both chunks" + fmt(", rel %.2e", rel));
}

void unaligned_file_pinned_and_staged(const std::string& dir) {
  make_hf_unaligned(dir);
  const auto m_cpu = load_model_dir(dir), m_pinned = load_model_dir(dir), m_staged = load_model_dir(dir);
  auto cpu = open_backend("cpu", 512 * MiB, 64 * MiB), pinned = open_backend("cuda", 512 * MiB, 64 * MiB);
  ::setenv("TIDEPOOL_CUDA_NO_PIN", "1", 1);  // read when a backend starts
  auto staged = open_backend("cuda", 512 * MiB, 64 * MiB);
  ::unsetenv("TIDEPOOL_CUDA_NO_PIN");
  Lane lc(*cpu, *m_cpu, 2, 64), lp(*pinned, *m_pinned, 2, 64), ls(*staged, *m_staged, 2, 64);
  const cuda::LoadStats p = cuda_of(*pinned).last_load(), s = cuda_of(*staged).last_load();
  expect(p.per_tensor && s.per_tensor, "unaligned Hugging Face layout: copied tensor by tensor");
  expect(p.pinned && p.staging_reason.empty(), "default: the /dev/shm mapping is pinned (" + p.staging_reason + ")");
  expect(!s.pinned && s.staging_reason.find("TIDEPOOL_CUDA_NO_PIN") != std::string::npos,
         "TIDEPOOL_CUDA_NO_PIN=1: staging ring, reason given");
  const BackendMemory mp = pinned->memory(), ms = staged->memory();
  expect(mp.host_pinned_bytes > 0 && mp.host_staged_bytes == 0 && ms.host_staged_bytes > 0 && ms.host_pinned_bytes == 0,
         "stats: host_pinned_bytes / host_staged_bytes tell the two apart");
  const std::vector<std::vector<int32_t>> prompts = {prompt_tokens(19, 1024, 1), prompt_tokens(7, 1024, 2)};
  const std::vector<float> c = lc.step(prompts, {0, 0}), a = lp.step(prompts, {0, 0}), b = ls.step(prompts, {0, 0});
  expect(same_bits(a, b) && rel_l2(a, c) <= kTolerance,
         "pinned and staged logits bit-identical, vs cpu" + fmt(" rel %.2e", rel_l2(a, c)));
}

void load_overlapping_decode(const std::string& small_dir, const std::string& big_dir) {
  const auto a = load_model_dir(small_dir), b = load_model_dir(big_dir), b_cpu = load_model_dir(big_dir);
  auto gpu = open_backend("cuda", 2048 * MiB, 128 * MiB);
  Lane la(*gpu, *a, 8, 64);
  std::vector<std::vector<int32_t>> prompts;
  for (int s = 0; s < 8; s++) prompts.push_back(prompt_tokens(10 + s, 1024, s));
  la.step(prompts, std::vector<int>(8, 0));
  std::vector<int> lens;
  for (int s = 0; s < 8; s++) lens.push_back(10 + s);
  const std::vector<float> reference = repeatable_step(la, lens);
  const KvLayout layout_b = make_kv_layout(b->config, 16, 64 << 10, gpu->kv_element_bytes());
  std::atomic<bool> loaded{false};
  int slot_b = -1;
  std::string error;
  std::thread loader([&] {
    try {
      slot_b = gpu->load_slot(*b, layout_b);  // pins the mapping, then copies on the pager's stream
    } catch (const std::exception& e) {
      error = e.what();
    }
    loaded = true;
  });
  int steps = 0;
  bool same = true;
  while (!loaded) {
    same = same && same_bits(repeatable_step(la, lens), reference);
    steps++;
  }
  loader.join();
  expect(error.empty() && same,
         "decode of A during B's load (" + std::to_string(steps) + " steps): logits bit-identical " + error);
  if (!error.empty()) return;
  auto cpu = open_backend("cpu", 2048 * MiB, 128 * MiB);
  Lane lb_cpu(*cpu, *b_cpu, 1, 64);
  Lane lb(*gpu, *b, 1, 64, 1024, slot_b);
  const std::vector<std::vector<int32_t>> pb = {prompt_tokens(20, b->config.vocab_size, 3)};
  const double rel = rel_l2(lb.step(pb, {0}), lb_cpu.step(pb, {0}));
  expect(rel <= kTolerance, "B after the overlapped load vs cpu" + fmt(", rel %.2e", rel));
}

void arena_out_of_memory(const std::string& small_dir, const std::string& big_dir) {
  const auto small = load_model_dir(small_dir), big = load_model_dir(big_dir);
  auto gpu = open_backend("cuda", 96 * MiB, 16 * MiB);  // a weights arena of ~74 MiB
  std::string code;
  try {
    gpu->load_slot(*big, make_kv_layout(big->config, 16, 64 << 10, 2));
  } catch (const EngineError& e) {
    code = e.code();
  }
  expect(code == "out_of_memory", "a model larger than the weights arena: out_of_memory (" + code + ")");
  Lane ls(*gpu, *small, 1, 64);
  const std::vector<float> logits = ls.step({prompt_tokens(9, 1024, 4)}, {0});
  expect(std::all_of(logits.begin(), logits.end(), [](float v) { return std::isfinite(v); }),
         "the arena still serves the next load");
}

}  // namespace

int main() {
  if (const int gate = cuda::gpu_test_gate("cuda_engine_test")) return gate;
  TempDir tmp("cuda-engine");
  write_synthetic_model(tmp / "small", small_qwen());
  write_synthetic_model(tmp / "other", other_llama());
  write_synthetic_model(tmp / "unaligned", small_qwen());
  SynthSpec big = small_qwen();  // ~270 MB of bf16: a load long enough to overlap many decode steps
  big.hidden = 1024;
  big.intermediate = 2816;
  big.layers = 6;
  big.heads = 8;
  big.vocab = 32000;
  write_synthetic_model(tmp / "big", big);
  decode_graphs(tmp / "small", tmp / "other");
  long_prefill(tmp / "small");
  unaligned_file_pinned_and_staged(tmp / "unaligned");
  load_overlapping_decode(tmp / "small", tmp / "big");
  arena_out_of_memory(tmp / "small", tmp / "big");
  std::printf(gpu_failures() ? "%d FAILED\n" : "all cuda engine tests passed\n", gpu_failures());
  return gpu_failures() ? 1 : 0;
}
