// The sampling fields of `add` over the real socket: each bad value refused with a bad_request naming the
// field and its range (ids checked against the resident model's vocabulary); step items stay [seq,
// token] for sequences that ask for nothing new, and carry {"logprob", "top"} only for those that ask;
// eos_ids, ignore_eos and min_tokens end sequences as documented; seqs + seeds (n > 1) fork one prefill.
#include <iostream>

#include "protocol_client.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

Json add_cmd(int64_t seq, int max_tokens) {
  Json j = op("add");
  j.set("seq", seq);
  j.set("model", "m");
  Json prompt = Json::array();
  for (int t : {84, 105, 100, 101, 112, 111, 111, 108, 33}) prompt.push(t);
  j.set("prompt", prompt);
  j.set("max_tokens", max_tokens);
  return j;
}

Json ids(std::initializer_list<int64_t> list) {
  Json a = Json::array();
  for (int64_t v : list) a.push(v);
  return a;
}

void run_all(ProtocolClient& cl) {
  Json run = op("run");
  run.set("model", "m");
  run.set("max_steps", 1000);
  CHECK(is_ok(cl.call(run)));
}

void check_refusals(ProtocolClient& cl) {
  struct Bad {
    const char* field;
    Json value;
    const char* says;
  };
  Json pair_out = Json::array(), pair_huge = Json::array(), twice = Json::array();
  pair_out.push(ids({500, 1}));  // the model's vocabulary is 320
  pair_huge.push(ids({3, 200}));
  twice.push(ids({3, 1}));
  twice.push(ids({3, 2}));
  const std::vector<Bad> cases = {
      {"temperature", -1, "temperature must be a number in [0, 1e4]"},
      {"top_p", 0, "top_p must be a number in (0, 1]"},
      {"top_k", -1, "top_k must be an integer in [0, 1048576]"},
      {"top_k", 2.5, "top_k must be an integer in [0, 1048576]"},
      {"min_p", 1.5, "min_p must be a number in [0, 1]"},
      {"presence_penalty", 2.5, "presence_penalty must be a number in [-2, 2]"},
      {"frequency_penalty", "x", "frequency_penalty must be a number in [-2, 2]"},
      {"repetition_penalty", 0, "repetition_penalty must be a number in (0, 100]"},
      {"logit_bias", pair_out, "logit_bias token 500 outside the vocabulary of 320"},
      {"logit_bias", pair_huge, "logit_bias for token 3 must be a number in [-100, 100]"},
      {"logit_bias", twice, "logit_bias lists token 3 twice"},
      {"logit_bias", ids({3}), "logit_bias entries must be [token id, bias] pairs"},
      {"min_tokens", 9, "min_tokens must be an integer in [0, 8]"},
      {"ignore_eos", 1, "ignore_eos must be a boolean"},
      {"logprobs", "yes", "logprobs must be a boolean"},
      {"top_logprobs", 21, "top_logprobs must be an integer in [0, 20]"},
      {"top_logprobs", 3, "top_logprobs needs logprobs: true"},
      {"eos_ids", ids({320}), "eos_ids token 320 outside the vocabulary of 320"},
      {"stop_ids", ids({-1}), "stop_ids holds a bad token id"},
  };
  for (const Bad& b : cases) {
    Json cmd = add_cmd(900, 8);
    cmd.set(b.field, b.value);
    const Json r = cl.call(cmd);
    if (message_of(r) != b.says) std::cerr << b.field << ": got \"" << message_of(r) << "\"\n";
    CHECK(code_of(r) == "bad_request" && message_of(r) == b.says);
  }
  std::cout << "refusals: " << cases.size() << " bad sampling fields, each named with its range\n";
}

void check_events(ProtocolClient& cl) {
  CHECK(is_ok(cl.call(add_cmd(1, 6))));  // asks for nothing new
  Json lp = add_cmd(2, 6);
  lp.set("temperature", 0.8);
  lp.set("seed", 5);
  lp.set("top_k", 50);
  lp.set("presence_penalty", 0.5);
  lp.set("logit_bias", Json::array());
  lp.set("logprobs", true);
  lp.set("top_logprobs", 3);
  CHECK(is_ok(cl.call(lp)));
  run_all(cl);
  const std::vector<Json> plain = items_of(cl.events, 1), rich = items_of(cl.events, 2);
  CHECK(plain.size() == 6 && rich.size() == 6);
  for (const Json& item : plain) CHECK(item.size() == 2);
  for (const Json& item : rich) {
    CHECK(item.size() == 3);
    const Json& info = item.as_array()[2];
    const Json& top = *info.find("top");
    CHECK(info.find("logprob")->as_double() <= 0 && top.size() == 3);
    for (size_t k = 0; k < 3; k++) CHECK(top.as_array()[k].as_array()[1].as_double() <= 0);
    if (top.as_array()[0].as_array()[0].as_int() == item.as_array()[1].as_int())
      CHECK(top.as_array()[0].as_array()[1].as_double() == info.find("logprob")->as_double());
  }
  std::cout << "events: [seq, token] for a plain sequence, [seq, token, {logprob, top}] when asked\n";
}

void check_ends(ProtocolClient& cl) {
  CHECK(is_ok(cl.call(add_cmd(10, 6))));
  run_all(cl);
  const int64_t second = items_of(cl.events, 10)[1].as_array()[1].as_int();
  Json eos = add_cmd(11, 6);
  eos.set("eos_ids", ids({second}));
  CHECK(is_ok(cl.call(eos)));
  Json ignored = eos;
  ignored.set("seq", 12);
  ignored.set("ignore_eos", true);
  CHECK(is_ok(cl.call(ignored)));
  Json late = eos;
  late.set("seq", 13);
  late.set("min_tokens", 4);
  CHECK(is_ok(cl.call(late)));
  run_all(cl);
  CHECK(done_of(cl.events, 11)->find("reason")->as_string() == "stop");
  CHECK(done_of(cl.events, 12)->find("reason")->as_string() == "length");
  const std::vector<Json> held = items_of(cl.events, 13);
  for (size_t i = 0; i < 4; i++) CHECK(held[i].as_array()[1].as_int() != second);
  std::cout << "ends: eos_ids stop, ignore_eos runs to max_tokens, min_tokens holds eos back\n";
}

// n > 1: seqs + seeds fork one prefill; each sequence's tokens equal a solo run with its seed.
void check_forks(ProtocolClient& cl) {
  Json many = add_cmd(0, 6);
  many.set("temperature", 1.0);
  Json seqs = ids({40, 41, 42}), seeds = ids({7, 8, 9});
  many.set("seqs", seqs);
  many.set("seeds", seeds);
  Json cmd = many;
  cmd.set("seq", Json());  // null: absent
  CHECK(is_ok(cl.call(cmd)));
  for (int64_t k = 0; k < 3; k++) {
    Json solo = add_cmd(50 + k, 6);
    solo.set("temperature", 1.0);
    solo.set("seed", 7 + k);
    CHECK(is_ok(cl.call(solo)));
  }
  run_all(cl);
  for (int64_t k = 0; k < 3; k++) {
    const std::vector<Json> forked = items_of(cl.events, 40 + k), alone = items_of(cl.events, 50 + k);
    CHECK(forked.size() == 6 && alone.size() == 6);
    for (size_t i = 0; i < 6; i++) CHECK(forked[i].as_array()[1].as_int() == alone[i].as_array()[1].as_int());
  }
  CHECK(cl.call(op("stats")).find("prefill_tokens_saved")->as_int() == 2 * 9);
  Json both = many;
  both.set("seq", 60);
  CHECK(message_of(cl.call(both)) == "give seq or seqs, not both");
  Json short_seeds = add_cmd(0, 6);
  short_seeds.set("seq", Json());
  short_seeds.set("seqs", ids({61, 62}));
  short_seeds.set("seeds", ids({1}));
  CHECK(message_of(cl.call(short_seeds)) == "seeds must be an array with one seed per id in seqs");
  Json twice = short_seeds;
  twice.set("seeds", Json());
  twice.set("seqs", ids({63, 63}));
  CHECK(message_of(cl.call(twice)) == "seqs lists sequence 63 twice");
  Json too_many = twice;
  Json seventeen = Json::array();
  for (int i = 0; i < 17; i++) seventeen.push(70 + i);
  too_many.set("seqs", seventeen);
  CHECK(message_of(cl.call(too_many)) == "seqs must be an array of 1 to 16 sequence ids");
  std::cout << "forks: seqs + seeds share one prefill and give each seed's solo tokens; bad seqs refused by name\n";
}

}  // namespace

int main() {
  const std::string tmp = make_temp_dir("proto-sampling"), socket_path = tmp + "/engine.sock";
  write_synthetic_model(tmp + "/m", SynthSpec{});
  const pid_t pid = start_engine(socket_path);
  ProtocolClient cl;
  cl.connect_to(socket_path);
  Json load = op("load");
  load.set("model", "m");
  load.set("dir", tmp + "/m");
  CHECK(is_ok(cl.call(load)));
  check_refusals(cl);
  check_events(cl);
  check_ends(cl);
  check_forks(cl);
  CHECK(is_ok(cl.call(op("shutdown"))));
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::cout << "PASS\n";
  return 0;
}
