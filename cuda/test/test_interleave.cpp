// Two models resident at once, stepped in alternation with sequences joining mid-way, give the same tokens
// as each model running alone; a KV pool too small for the batch preempts and recomputes without changing
// any token.
#include <iostream>

#include "engine_harness.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

std::vector<int32_t> prompt_for(int i) {
  std::vector<int32_t> p;
  for (int j = 0; j < 5 + 3 * i; j++) p.push_back((i * 37 + j * 11) % 300);
  return p;
}

TokenLog run_alone(const std::string& dir, int first_id) {
  TokenLog log;
  auto engine = make_engine(64);
  engine->install_model("m", load_model_dir(dir));
  for (int i = 0; i < 3; i++) engine->add(seq_spec(first_id + i, "m", prompt_for(i), 20 + i, i == 2 ? 0.7f : 0, 9 + i));
  run_until_idle(*engine, "m", log);
  return log;
}

}  // namespace

int main() {
  const std::string llama = make_temp_dir("llama"), qwen = make_temp_dir("qwen");
  write_synthetic_model(llama, SynthSpec{});
  SynthSpec q;
  q.architecture = "Qwen2ForCausalLM";
  q.qkv_bias = true;
  q.tie_embeddings = true;
  q.seed = 5;
  write_synthetic_model(qwen, q);
  TokenLog want_a = run_alone(llama, 10), want_b = run_alone(qwen, 20);

  TokenLog got;
  auto engine = make_engine(64);
  engine->install_model("a", load_model_dir(llama));
  engine->install_model("b", load_model_dir(qwen));
  engine->add(seq_spec(10, "a", prompt_for(0), 20));
  engine->add(seq_spec(20, "b", prompt_for(0), 20));
  for (int step = 0; engine->has_sequences("a") || engine->has_sequences("b"); step++) {
    if (step == 3) engine->add(seq_spec(11, "a", prompt_for(1), 21));  // joins a running batch
    if (step == 6) engine->add(seq_spec(21, "b", prompt_for(1), 21));
    if (step == 8) {
      engine->add(seq_spec(12, "a", prompt_for(2), 22, 0.7f, 11));
      engine->add(seq_spec(22, "b", prompt_for(2), 22, 0.7f, 11));
    }
    step_into(*engine, step % 2 ? "b" : "a", got);
  }
  for (auto& [id, tokens] : want_a) CHECK(got[id] == tokens);
  for (auto& [id, tokens] : want_b) CHECK(got[id] == tokens);
  std::cout << "interleave: 2 models x 3 sequences, alternating steps, all tokens identical to solo runs\n";

  // Three sequences need 3 blocks each at the end; 5 pages force preemption and recomputation.
  TokenLog tight;
  auto small = make_engine(5);
  small->install_model("a", load_model_dir(llama));
  for (int i = 0; i < 3; i++) small->add(seq_spec(10 + i, "a", prompt_for(i), 20 + i, i == 2 ? 0.7f : 0, 9 + i));
  run_until_idle(*small, "a", tight);
  CHECK(small->scheduler().preemptions() > 0);
  CHECK(small->scheduler().blocks().check_integrity());
  for (auto& [id, tokens] : want_a) CHECK(tight[id] == tokens);
  std::cout << "kv pressure: " << small->scheduler().preemptions() << " preemptions, tokens unchanged\nPASS\n";
  return 0;
}
