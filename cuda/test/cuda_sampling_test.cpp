// Sampling prepared on the device (cuda_sampling.cpp, sampling_prep.cu) against the host sampler on the
// same logits: two engines on the CUDA backend, one preparing sampling on the device and one copying rows
// back (set_device_sampling(false)), run the same batches and must give the same tokens and ends, and
// logprobs within 2e-6 (the device sums the raw normaliser in double, the host's fast pass is within
// about 3e-7 of it). Logits are bit-identical between the two: the same kernels on the same batches.
// Batches: sampling_path_cases.h's (every parameter, a grammar, a top_k the device does not answer, a flat
// distribution) on a 151,936-token bf16 model; 32 sequences with 40-token prompts (a prefill step of 32
// logit rows, then decode graphs at batch 32); 40 sequences (more rows than the device path takes: full
// rows as before). Prints "SKIP: <reason>" and exits 77 only on a machine without a GPU (cuda_device.h).
#include <iostream>

#include "cuda_backend.h"
#include "cuda_device.h"
#include "sampling_path_cases.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

int failures = 0;

void expect(bool ok, const std::string& what) {
  std::cout << what << (ok ? ": ok\n" : ": FAIL\n");
  failures += ok ? 0 : 1;
}

struct Engine {
  std::unique_ptr<EngineCore> core;
  cuda::CudaBackend* backend = nullptr;
};

Engine engine_on(bool device_sampling, const std::string& dir) {
  auto backend = std::make_unique<cuda::CudaBackend>(BackendOptions{});
  backend->set_device_sampling(device_sampling);
  Engine e;
  e.backend = backend.get();
  EngineOptions o;
  o.memory_budget_bytes = size_t(2) << 30;
  o.kv_budget_bytes = size_t(256) << 20;
  e.core = std::make_unique<EngineCore>(std::move(backend), o);
  e.core->install_model("m", load_model_dir(dir));
  register_json(*e.core);
  return e;
}

// n sequences with `prompt_len`-token prompts and parameters cycling through greedy, top-p, top-k with
// penalties and bias, and logprobs.
std::vector<SequenceSpec> wide_batch(int n, int prompt_len) {
  std::vector<SequenceSpec> specs;
  for (int i = 0; i < n; i++) {
    std::vector<int32_t> prompt;
    for (int t = 0; t < prompt_len; t++) prompt.push_back((i * 7919 + t * 131 + 17) % 151936);
    SequenceSpec s = seq_spec(1000 + i, "m", prompt, 12, i % 4 == 0 ? 0.0f : 0.9f, 77 + i);
    if (i % 4 == 2) {
      s.sampling.top_k = 50;
      s.sampling.repetition_penalty = 1.2f;
      s.sampling.logit_bias = {{11, 3.0f}};
    }
    if (i % 4 == 3) {
      s.sampling.logprobs = true;
      s.sampling.top_logprobs = 20;
    }
    specs.push_back(s);
  }
  return specs;
}

void compare(const std::string& dir, const std::string& name, const std::vector<SequenceSpec>& specs,
             bool expect_device) {
  Engine host = engine_on(false, dir), device = engine_on(true, dir);
  const Outcome want = run_batch(*host.core, specs), got = run_batch(*device.core, specs);
  const auto st = device.backend->device_sampling_stats();
  std::cout << name << ": " << st.rows << " rows prepared on the device, " << st.rows_unanswered << " unanswered, "
            << st.rows_fetched << " fetched\n";
  expect(same_outcome(want, got), name + ": tokens, ends and logprobs equal the host sampler's");
  expect(host.backend->device_sampling_stats().rows == 0, name + ": the host engine prepared nothing");
  expect(expect_device ? st.rows > 0 : st.rows == 0,
         name + (expect_device ? ": the device path ran" : ": full rows, as before"));
}

}  // namespace

int main() {
  if (const int gate = cuda::gpu_test_gate("cuda_sampling_test")) return gate;  // skips only without a GPU
  SynthSpec s;
  s.architecture = "Qwen2ForCausalLM";
  s.dtype = "BF16";
  s.qkv_bias = true;
  s.hidden = 256;
  s.intermediate = 512;
  s.layers = 2;
  s.heads = 4;
  s.kv_heads = 2;
  s.vocab = 151936;
  s.max_positions = 4096;
  const std::string dir = make_temp_dir("cuda-sampling");
  write_synthetic_model(dir, s);
  compare(dir, "every parameter, a grammar, top_k 300, a flat row", batch_specs(), true);
  compare(dir, "32 sequences (prefill rows, decode graphs at 32)", wide_batch(32, 40), true);
  compare(dir, "40 sequences", wide_batch(40, 5), false);
  std::cout << (failures ? std::to_string(failures) + " FAILED\n" : "all device sampling tests passed\n");
  return failures ? 1 : 0;
}
