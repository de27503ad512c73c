// n > 1 through the step loop: sequences forked from one prefill give exactly the tokens each gives when
// run alone with its seed, for prompts that end inside a block and on a block boundary; the forked
// blocks are counted (shared pages hold one reference per sequence, check_integrity after every step)
// and only the partial block is copied; a pool without room for the copies falls back to separate
// prefills, and so does every child when its parent is cancelled before prefill; a child cancelled while
// pending just ends, and one cannot be parked; KV pressure preempts forked sequences and recomputes them unchanged.
#include <iostream>

#include "engine_harness.h"
#include "errors.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

std::vector<int32_t> prompt_of(int len) {
  std::vector<int32_t> p;
  for (int i = 0; i < len; i++) p.push_back((i * 29 + 7) % 300);
  return p;
}

SequenceSpec spec_of(int64_t id, int prompt_len, uint64_t seed, int max_tokens = 12) {
  SequenceSpec s = seq_spec(id, "m", prompt_of(prompt_len), max_tokens, 0.9f, seed);
  s.sampling.top_p = 1;
  s.sampling.top_k = 40;
  return s;
}

// Each id's tokens when it runs alone (its own prefill).
TokenLog solo(const std::string& dir, int prompt_len, const std::vector<std::pair<int64_t, uint64_t>>& ids,
              int max_tokens = 12) {
  TokenLog log;
  for (const auto& [id, seed] : ids) {
    auto engine = make_engine(64);
    engine->install_model("m", load_model_dir(dir));
    engine->add(spec_of(id, prompt_len, seed, max_tokens));
    run_until_idle(*engine, "m", log);
  }
  return log;
}

SequenceSpec forked(int prompt_len, int max_tokens = 12) {
  SequenceSpec s = spec_of(1, prompt_len, 100, max_tokens);
  s.fork_ids = {2, 3, 4};
  s.fork_seeds = {200, 300, 400};
  return s;
}

void run_checked(EngineCore& engine, TokenLog& log) {
  while (engine.has_sequences("m")) {
    step_into(engine, "m", log);
    std::string why;
    if (!engine.scheduler().blocks().check_integrity(&why)) {
      std::cerr << "integrity: " << why << "\n";
      std::exit(1);
    }
  }
}

void check_same_tokens(const std::string& dir, int prompt_len) {
  const TokenLog want = solo(dir, prompt_len, {{1, 100}, {2, 200}, {3, 300}, {4, 400}});
  auto engine = make_engine(64);
  engine->install_model("m", load_model_dir(dir));
  engine->add(forked(prompt_len));
  TokenLog got;
  step_into(*engine, "m", got);  // the prefill: every sequence has its first token
  CHECK(got.size() == 4);
  const Sequence* parent = engine->find(1);
  const int full_pages = prompt_len / 16 * static_cast<int>(parent->pages.size() / ((prompt_len + 15) / 16));
  for (int i = 0; i < full_pages; i++) CHECK(engine->scheduler().blocks().ref_count(parent->pages[i]) == 4);
  CHECK(engine->prefill_tokens_saved() == 3 * prompt_len);
  run_checked(*engine, got);
  CHECK(got == want);
  CHECK(engine->scheduler().blocks().used_count() == 0);
  std::cout << "prompt " << prompt_len << ": 4 forked sequences give their solo tokens, " << full_pages
            << " prompt pages shared 4 ways, " << 3 * prompt_len << " prefill tokens saved\n";
}

void check_fallbacks(const std::string& dir) {
  const TokenLog want = solo(dir, 21, {{1, 100}, {2, 200}, {3, 300}, {4, 400}});
  // One page per block for this model; 3 pages: the parent's prompt takes 2, the first child's copy the
  // last, so the other children prefill themselves when pages free up.
  auto tight = make_engine(3);
  tight->install_model("m", load_model_dir(dir));
  tight->add(forked(21));
  TokenLog got;
  run_checked(*tight, got);
  CHECK(got == want && tight->prefill_tokens_saved() < 3 * 21);
  std::cout << "tight pool: forks that find no pages prefill themselves (saved " << tight->prefill_tokens_saved()
            << " of 63 tokens), tokens unchanged\n";
  // 5 pages, 20 tokens each (3 blocks at the end): every fork succeeds, then growth preempts forked
  // sequences, which recompute into pages of their own.
  const TokenLog longer = solo(dir, 21, {{1, 100}, {2, 200}, {3, 300}, {4, 400}}, 20);
  auto pressed = make_engine(5);
  pressed->install_model("m", load_model_dir(dir));
  pressed->add(forked(21, 20));
  TokenLog got2;
  run_checked(*pressed, got2);
  CHECK(got2 == longer && pressed->scheduler().preemptions() > 0 && pressed->prefill_tokens_saved() == 63);
  std::cout << "kv pressure: " << pressed->scheduler().preemptions()
            << " preemptions of forked sequences, tokens unchanged\n";

  auto engine = make_engine(64);
  engine->install_model("m", load_model_dir(dir));
  engine->add(forked(21));
  bool refused = false;
  try {
    engine->park(2);  // a pending child has no KV of its own yet
  } catch (const EngineError& e) {
    refused = e.code() == "bad_request";
  }
  CHECK(refused);
  DoneEvent done;
  CHECK(engine->cancel(3, &done) && done.reason == "cancelled");  // a pending child
  CHECK(engine->cancel(1, &done));                                // the parent, before its prefill
  TokenLog rest;
  run_checked(*engine, rest);
  CHECK(rest.size() == 2 && rest[2] == want.at(2) && rest[4] == want.at(4) && engine->prefill_tokens_saved() == 0);
  std::cout << "cancel: a pending child ends; the others outlive their cancelled parent and prefill themselves\n";
}

}  // namespace

int main() {
  const std::string dir = make_temp_dir("forks");
  write_synthetic_model(dir, SynthSpec{});
  check_same_tokens(dir, 21);  // ends inside a block: the partial block is copied
  check_same_tokens(dir, 32);  // ends on a block boundary: nothing to copy
  check_fallbacks(dir);
  std::cout << "PASS\n";
  return 0;
}
