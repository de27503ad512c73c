// Embedding sequences through the step loop on the CPU backend: for each reference in
// test/fixtures/embeddings (Hugging Face transformers' final hidden states, pooled mean / last and
// L2-normalised), the engine's embedding matches within 1e-5 per component, and within 8u of the largest
// component with the CUDA backend's precision emulated (test_reference's bound, there on logits); an
// embedding and a generating sequence share a step without disturbing each other; an embedding frees its
// KV blocks when it ends.
#include <dirent.h>

#include <cmath>
#include <fstream>
#include <iostream>
#include <sstream>

#include "engine_harness.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

constexpr double kTolerance = 1e-5;
// Emulated CUDA precision stores K/V (and a half model's activations) rounded to bf16 (u = 2^-9): the
// pooled states move by a few u relative to the largest component, as the logits do in test_reference
// (measured 1.2e-3 to 6.7e-3 on the two fixtures).
constexpr double kEmulatedTolerance = 8.0 / 512;

Json read_json(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return Json::parse(ss.str());
}

SequenceSpec embed_spec(int64_t id, std::vector<int32_t> prompt, Pooling pooling) {
  SequenceSpec s = seq_spec(id, "m", std::move(prompt), 0);
  s.pooling = pooling;
  return s;
}

std::vector<float> embed_one(EngineCore& engine, int64_t id, const std::vector<int32_t>& prompt, Pooling pooling) {
  engine.add(embed_spec(id, prompt, pooling));
  StepResult r = engine.step("m");
  CHECK(r.tokens.empty());
  CHECK(r.done.size() == 1 && r.done[0].seq == id && r.done[0].reason == "stop");
  CHECK(r.done[0].completion_tokens == 0 && r.done[0].prompt_tokens == static_cast<int>(prompt.size()));
  return r.done[0].embedding;
}

// max |got - want|, relative to max |want| when `relative`.
double max_diff(const std::vector<float>& got, const Json& want, bool relative) {
  CHECK(got.size() == want.size());
  double diff = 0, scale = 0;
  for (size_t i = 0; i < got.size(); i++) {
    diff = std::max(diff, std::fabs(got[i] - want.as_array()[i].as_double()));
    scale = std::max(scale, std::fabs(want.as_array()[i].as_double()));
  }
  return relative ? diff / scale : diff;
}

int check_reference(const std::string& file, bool emulate) {
  const Json ref = read_json(file);
  const std::string model = ref.find("model")->as_string();
  auto engine = make_engine(64, 16, emulate);
  engine->install_model("m", load_model_dir(TIDEPOOL_REPO_ROOT "/test/fixtures/models/" + model));
  const Json::Array& prompts = ref.find("prompts")->as_array();
  int64_t id = 1;
  for (size_t p = 0; p < prompts.size(); p++) {
    std::vector<int32_t> prompt;
    for (const Json& t : prompts[p].as_array()) prompt.push_back(static_cast<int32_t>(t.as_int()));
    for (const auto& [name, pooling] : {std::pair{"mean", Pooling::Mean}, std::pair{"last", Pooling::Last}}) {
      const std::vector<float> got = embed_one(*engine, id++, prompt, pooling);
      double norm = 0;
      for (float v : got) norm += double(v) * v;
      CHECK(std::fabs(std::sqrt(norm) - 1) < 1e-5);
      const double diff = max_diff(got, ref.find(name)->as_array()[p], emulate);
      std::cout << model << " prompt " << p << " " << name
                << (emulate ? " (cuda precision): max |engine - transformers| / max |transformers| = "
                            : ": max |engine - transformers| = ")
                << diff << "\n";
      CHECK(diff <= (emulate ? kEmulatedTolerance : kTolerance));
    }
  }
  CHECK(engine->scheduler().blocks().used_count() == 0);
  return 1;
}

// An embedding beside a generating sequence in one step: the generating one gets its usual greedy tokens.
void check_mixed_batch() {
  const std::string dir = TIDEPOOL_REPO_ROOT "/test/fixtures/models/tiny-llama";
  TokenLog alone;
  {
    auto engine = make_engine(64);
    engine->install_model("m", load_model_dir(dir));
    engine->add(seq_spec(1, "m", {1, 2, 3, 4}, 5));
    run_until_idle(*engine, "m", alone);
  }
  auto engine = make_engine(64);
  engine->install_model("m", load_model_dir(dir));
  engine->add(seq_spec(1, "m", {1, 2, 3, 4}, 5));
  engine->add(embed_spec(2, {5, 6, 7}, Pooling::Mean));
  TokenLog mixed;
  StepResult first = engine->step("m");
  CHECK(first.tokens.size() == 1 && first.tokens[0].seq == 1);
  CHECK(first.done.size() == 1 && first.done[0].seq == 2 && first.done[0].embedding.size() == 64);
  mixed[1].push_back(first.tokens[0].token);
  run_until_idle(*engine, "m", mixed);
  CHECK(mixed[1] == alone[1]);
  CHECK(engine->scheduler().blocks().used_count() == 0);
}

}  // namespace

int main() {
  const std::string dir = TIDEPOOL_REPO_ROOT "/test/fixtures/embeddings";
  int checked = 0;
  DIR* d = ::opendir(dir.c_str());
  while (d) {
    dirent* e = ::readdir(d);
    if (!e) break;
    const std::string file = e->d_name;
    if (file.size() > 5 && file.substr(file.size() - 5) == ".json")
      checked += check_reference(dir + "/" + file, false) + check_reference(dir + "/" + file, true);
  }
  if (d) ::closedir(d);
  CHECK(checked >= 4);
  check_mixed_batch();
  std::cout << "test_embed: " << checked / 2 << " references matched, exact and with cuda precision\n";
  return 0;
}
