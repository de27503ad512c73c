// Constrained decoding over the real socket, with a hand-written tokenizer for the test model's 320 ids
// (256 single bytes, 44 multi-byte tokens, 20 specials; 300 is eos): a literal automaton always yields
// exactly its bytes and then eos, whatever the seed and temperature; a small JSON automaton yields
// strings of its language (or a prefix, ending "length", when max_tokens runs out inside it); min_tokens
// cannot keep a finished structure open; bad registrations and references are refused by name; stats
// count masks built and reused.
#include <iostream>

#include "grammar_fixtures.h"
#include "protocol_client.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

constexpr int kEos = 300;

std::vector<std::string> test_tokens() {
  std::vector<std::string> t;
  for (int b = 0; b < 256; b++) t.push_back(std::string(1, static_cast<char>(b)));
  for (const char* s :
       {"{\"",     "\":", "hi", "h",  "12", "345",     "0}", "}",   "\"n", "n\"", "true", "false", "null", "ab", "abc",
        "{\"n\":", "99",  "7}", "\"", "::", "{{",      "}}", "hii", "i",   "00",  "01",   "1",     "2",    "3",  "4",
        "5",       "6",   "7",  "8",  "9",  "\"n\":1", "x",  "y",   "z",   "ok",  "no",   "yes",   "{",    ":"})
    t.push_back(s);
  while (t.size() < 320) t.push_back("");
  return t;
}

std::set<int> specials() {
  std::set<int> s;
  for (int id = 300; id < 320; id++) s.insert(id);
  return s;
}

Json add_cmd(int64_t seq, const std::string& grammar, int max_tokens, double temperature, int64_t seed) {
  Json j = op("add");
  j.set("seq", seq);
  j.set("model", "m");
  Json prompt = Json::array();
  for (int t : {84, 105, 100, 101}) prompt.push(t);
  j.set("prompt", prompt);
  j.set("max_tokens", max_tokens);
  j.set("temperature", temperature);
  j.set("seed", seed);
  Json eos = Json::array();
  eos.push(kEos);
  j.set("eos_ids", eos);
  if (!grammar.empty()) {
    j.set("grammar", grammar);
    j.set("vocab", "v");
  }
  return j;
}

void run_all(ProtocolClient& cl) {
  Json run = op("run");
  run.set("model", "m");
  run.set("max_steps", 1000);
  CHECK(is_ok(cl.call(run)));
}

// The sequence's output as bytes, and whether it ended with eos.
std::string text_of(const ProtocolClient& cl, int64_t seq, bool* ended_with_eos) {
  static const std::vector<std::string> tokens = test_tokens();
  std::string text;
  *ended_with_eos = false;
  for (const Json& item : items_of(cl.events, seq)) {
    const int64_t t = item.as_array()[1].as_int();
    CHECK(!*ended_with_eos);  // nothing after eos
    if (t == kEos) *ended_with_eos = true;
    else text += tokens[t];
  }
  return text;
}

// {"n":[0-9]+}
const std::vector<Quad> kJson = {{0, '{', '{', 1}, {1, '"', '"', 2}, {2, 'n', 'n', 3}, {3, '"', '"', 4},
                                 {4, ':', ':', 5}, {5, '0', '9', 6}, {6, '0', '9', 6}, {6, '}', '}', 7}};

bool json_prefix(const std::string& s, bool whole) {
  int state = 0;
  for (unsigned char b : s) {
    int next = -1;
    for (const Quad& q : kJson)
      if (q.from == state && b >= q.lo && b <= q.hi) next = q.to;
    if (next < 0) return false;
    state = next;
  }
  return !whole || state == 7;
}

void check_generation(ProtocolClient& cl) {
  for (int64_t seed = 1; seed <= 6; seed++) {
    CHECK(is_ok(cl.call(add_cmd(seed, "hi", 10, seed % 2 ? 2.0 : 0.0, seed))));
    CHECK(is_ok(cl.call(add_cmd(100 + seed, "json", 40, 1.5, seed))));
  }
  Json held = add_cmd(200, "hi", 10, 1.0, 3);
  held.set("min_tokens", 8);
  CHECK(is_ok(cl.call(held)));
  CHECK(is_ok(cl.call(add_cmd(201, "json", 3, 1.0, 3))));
  run_all(cl);
  int finished = 0;
  for (int64_t seed = 1; seed <= 6; seed++) {
    bool eos = false;
    CHECK(text_of(cl, seed, &eos) == "hi" && eos);
    CHECK(done_of(cl.events, seed)->find("reason")->as_string() == "stop");
    const std::string json = text_of(cl, 100 + seed, &eos);
    const std::string reason = done_of(cl.events, 100 + seed)->find("reason")->as_string();
    CHECK((reason == "stop" && eos && json_prefix(json, true)) ||
          (reason == "length" && !eos && json_prefix(json, false)));
    finished += reason == "stop";
  }
  bool eos = false;
  CHECK(text_of(cl, 200, &eos) == "hi" && eos);  // min_tokens could not hold the finished structure open
  CHECK(done_of(cl.events, 201)->find("reason")->as_string() == "length" && json_prefix(text_of(cl, 201, &eos), false));
  std::cout << "generation: the literal automaton always gives \"hi\" then eos; the JSON automaton's outputs are in "
               "its language ("
            << finished << " of 6 finished, the rest prefixes cut by max_tokens)\n";
}

void check_refusals(ProtocolClient& cl) {
  CHECK(message_of(cl.call(add_cmd(300, "nope", 5, 0, 0))) == "grammar nope is not registered");
  Json no_vocab = add_cmd(301, "hi", 5, 0, 0);
  no_vocab.set("vocab", "other");
  CHECK(code_of(cl.call(no_vocab)) == "not_found");
  Json half = add_cmd(302, "", 5, 0, 0);
  half.set("grammar", "hi");
  CHECK(message_of(cl.call(half)) == "grammar and vocab must be given together, as registered names");
  Json ignore = add_cmd(303, "hi", 5, 0, 0);
  ignore.set("ignore_eos", true);
  CHECK(message_of(cl.call(ignore)) == "ignore_eos cannot be combined with grammar");
  Json endless = add_cmd(304, "hi", 5, 0, 0);
  endless.set("eos_ids", Json::array());
  CHECK(message_of(cl.call(endless)) == "grammar needs eos_ids or stop_ids: the ids that end the structure");
  CHECK(message_of(cl.call(automaton_json("bad", 2, 0, {1}, {{0, 'a', 'b', 1}, {0, 'b', 'b', 0}}))) ==
        "grammar: state 0 has two transitions on byte 98 (not deterministic)");
  Json bad_vocab = vocab_json("w", {"a"}, {});
  bad_vocab.set("tokens", Json(Json::Array{Json("a$==")}));
  CHECK(message_of(cl.call(bad_vocab)) == "vocab: token 0 is not a base64 string or null");
  std::cout << "refusals: unknown grammar or vocab, half a reference, ignore_eos, no end ids, bad automata and "
               "vocabularies\n";
}

}  // namespace

int main() {
  const std::string tmp = make_temp_dir("proto-grammar"), socket_path = tmp + "/engine.sock";
  write_synthetic_model(tmp + "/m", SynthSpec{});
  const pid_t pid = start_engine(socket_path);
  ProtocolClient cl;
  cl.connect_to(socket_path);
  Json load = op("load");
  load.set("model", "m");
  load.set("dir", tmp + "/m");
  CHECK(is_ok(cl.call(load)));
  const Json vocab = cl.call(vocab_json("v", test_tokens(), specials()));
  CHECK(is_ok(vocab) && vocab.find("tokens")->as_int() == 320);
  CHECK(is_ok(cl.call(automaton_json("hi", 3, 0, {2}, {{0, 'h', 'h', 1}, {1, 'i', 'i', 2}}))));
  const Json json = cl.call(automaton_json("json", 8, 0, {7}, kJson));
  CHECK(is_ok(json) && json.find("states")->as_int() == 8);
  check_generation(cl);
  check_refusals(cl);
  const Json stats = *cl.call(op("stats")).find("grammar");
  CHECK(stats.find("grammars")->as_int() == 2 && stats.find("mask_hits")->as_int() > 0 &&
        stats.find("masks")->as_int() > 0);
  std::cout << "stats: " << stats.dump() << "\n";
  CHECK(is_ok(cl.call(op("shutdown"))));
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::cout << "PASS\n";
  return 0;
}
