// The real binary over its Unix socket: ready line, hello, load (two models, cached reload, bad model,
// out of memory), add/run with step and done events, preempt of a long turn, park/restore, cancel, stats,
// evict busy/force, host mappings kept across evict (map, unmap, stale files), a malformed frame closing the
// connection, reconnect, and shutdown exiting 0.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <iostream>

#include "framing.h"
#include "json.h"
#include "test_support.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

struct Client {
  int fd = -1;
  int64_t next_id = 1;
  std::vector<Json> events;

  void connect_to(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strcpy(addr.sun_path, path.c_str());
    CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  int64_t send(Json cmd) {
    const int64_t id = next_id++;
    cmd.set("id", id);
    CHECK(write_frame(fd, cmd.dump()));
    return id;
  }
  // Reads until the reply to `id`; events on the way are kept.
  Json reply(int64_t id) {
    for (;;) {
      std::string payload;
      CHECK(read_frame(fd, payload));
      Json msg = Json::parse(payload);
      const Json* re = msg.find("re");
      if (re && re->is_int() && re->as_int() == id) return msg;
      CHECK(!re);  // replies come in order; nothing else may be pending here
      events.push_back(msg);
    }
  }
  Json call(Json cmd) { return reply(send(std::move(cmd))); }
};

Json op(const std::string& name) {
  Json j = Json::object();
  j.set("op", name);
  return j;
}

Json add_cmd(int64_t seq, const std::string& model, int max_tokens) {
  Json j = op("add");
  j.set("seq", seq);
  j.set("model", model);
  Json prompt = Json::array();
  for (int t : {84, 105, 100, 101, 112, 111, 111, 108, 33}) prompt.push(t);
  j.set("prompt", prompt);
  j.set("max_tokens", max_tokens);
  j.set("temperature", 0);
  j.set("top_p", 1);
  j.set("seed", 0);
  j.set("stop_ids", Json::array());
  return j;
}

Json run_cmd(const std::string& model, int max_steps) {
  Json j = op("run");
  j.set("model", model);
  j.set("max_steps", max_steps);
  return j;
}

bool is_ok(const Json& r) { return r.find("type")->as_string() == "ok"; }
std::string code_of(const Json& r) { return r.find("code") ? r.find("code")->as_string() : ""; }

std::vector<int64_t> tokens_of(const std::vector<Json>& events, int64_t seq) {
  std::vector<int64_t> out;
  for (const Json& e : events)
    if (e.find("type")->as_string() == "step")
      for (const Json& item : e.find("tokens")->as_array())
        if (item.as_array()[0].as_int() == seq) out.push_back(item.as_array()[1].as_int());
  return out;
}

const Json* done_of(const std::vector<Json>& events, int64_t seq) {
  for (const Json& e : events)
    if (e.find("type")->as_string() == "done" && e.find("seq")->as_int() == seq) return &e;
  return nullptr;
}

Json model_cmd(const std::string& name, const std::string& model, const std::string& dir = "") {
  Json j = op(name);
  j.set("model", model);
  if (!dir.empty()) j.set("dir", dir);
  return j;
}

// A model's state in a stats reply, or "" when it is not listed.
std::string state_of(const Json& stats, const std::string& model) {
  for (const Json& m : stats.find("models")->as_array())
    if (m.find("model")->as_string() == model) return m.find("state")->as_string();
  return "";
}

// A sequence added before its model is resident is checked against the vocabulary when the model loads; its
// failure is a done with reason "error" that carries the code in its own field beside the human message.
void check_coded_done(Client& cl, const std::string& llama) {
  Json add = add_cmd(90, "coded", 4);
  Json prompt = Json::array();
  prompt.push(5);
  prompt.push(100000);  // outside the test model's vocabulary
  add.set("prompt", prompt);
  CHECK(is_ok(cl.call(add)));
  CHECK(is_ok(cl.call(model_cmd("load", "coded", llama))));
  CHECK(is_ok(cl.call(run_cmd("coded", 1))));
  const Json* done = done_of(cl.events, 90);
  CHECK(done && done->find("reason")->as_string() == "error");
  CHECK(done->find("code") && done->find("code")->as_string() == "bad_request");
  CHECK(done->find("message")->as_string().find("outside the vocabulary") != std::string::npos);
  CHECK(is_ok(cl.call(model_cmd("evict", "coded"))));
}

// Evict keeps the host mapping; load then only copies; unmap drops it; map maps without a slot; a mapping
// whose files are deleted is dropped at evict, and by the sweep when nothing evicts it.
void check_mapping_lifecycle(Client& cl, const std::string& llama, const std::string& tmp) {
  CHECK(state_of(cl.call(op("stats")), "a") == "mapped");
  Json reload = cl.call(model_cmd("load", "a", llama));
  CHECK(is_ok(reload) && !reload.find("cached")->as_bool());
  CHECK(state_of(cl.call(op("stats")), "a") == "resident");
  CHECK(code_of(cl.call(model_cmd("unmap", "a"))) == "busy");  // resident: evict first
  CHECK(is_ok(cl.call(model_cmd("evict", "a"))));
  CHECK(cl.call(model_cmd("unmap", "a")).find("dropped")->as_bool());
  CHECK(!cl.call(model_cmd("unmap", "a")).find("dropped")->as_bool());
  CHECK(state_of(cl.call(op("stats")), "a").empty());
  Json mapped = cl.call(model_cmd("map", "a", llama));
  CHECK(is_ok(mapped) && !mapped.find("cached")->as_bool() && mapped.find("bytes")->as_int() > 0);
  CHECK(cl.call(model_cmd("map", "a", llama)).find("cached")->as_bool());
  CHECK(state_of(cl.call(op("stats")), "a") == "mapped");

  const std::string gone = tmp + "/gone", swept = tmp + "/swept";
  write_synthetic_model(gone, SynthSpec{});
  write_synthetic_model(swept, SynthSpec{});
  CHECK(is_ok(cl.call(model_cmd("load", "gone", gone))));
  CHECK(is_ok(cl.call(model_cmd("map", "swept", swept))));
  std::filesystem::remove_all(gone);
  std::filesystem::remove_all(swept);
  CHECK(is_ok(cl.call(model_cmd("evict", "gone"))));
  CHECK(state_of(cl.call(op("stats")), "gone").empty());
  ::usleep(1'100'000);  // past the sweep's once-a-second limit
  CHECK(state_of(cl.call(op("stats")), "swept").empty());
}

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  const std::string tmp = make_temp_dir("proto"), socket_path = tmp + "/engine.sock";
  const std::string llama = tmp + "/llama", qwen = tmp + "/qwen", broken = tmp + "/broken";
  write_synthetic_model(llama, SynthSpec{});
  SynthSpec q;
  q.architecture = "Qwen2ForCausalLM";
  q.qkv_bias = true;
  q.tie_embeddings = true;
  write_synthetic_model(qwen, q);
  SynthSpec big;
  big.hidden = 256;
  big.intermediate = 1024;
  big.vocab = 4096;
  big.layers = 8;
  write_synthetic_model(broken, big);  // ~40 MB f32: more than the weights arena of a 48 MiB budget

  int out_pipe[2];
  CHECK(::pipe(out_pipe) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a failed check must not leave the engine running
    ::dup2(out_pipe[1], 1);
    ::execl(TIDEPOOL_ENGINE_BINARY, "tidepool-engine", "serve", "--backend", "cpu", "--socket", socket_path.c_str(),
            "--memory-budget-bytes", "50331648", "--kv-budget-bytes", "8388608", "--threads", "2", (char*)nullptr);
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  std::string line;
  char c;
  while (::read(out_pipe[0], &c, 1) == 1 && c != '\n') line += c;
  const Json ready = Json::parse(line);
  CHECK(ready.find("ready")->as_bool() && ready.find("backend")->as_string() == "cpu");

  Client cl;
  cl.connect_to(socket_path);
  Json hello = cl.call(op("hello"));
  CHECK(is_ok(hello) && hello.find("kv_block_tokens")->as_int() == 16);
  Json load = op("load");
  load.set("model", "a");
  load.set("dir", llama);
  CHECK(is_ok(cl.call(load)));
  Json again = cl.call(load);
  CHECK(again.find("cached")->as_bool());
  load.set("model", "b");
  load.set("dir", qwen);
  CHECK(is_ok(cl.call(load)));
  load.set("model", "big");
  load.set("dir", broken);
  CHECK(code_of(cl.call(load)) == "out_of_memory");
  load.set("model", "missing");
  load.set("dir", tmp + "/nowhere");
  CHECK(code_of(cl.call(load)) == "bad_model");
  CHECK(code_of(cl.call(add_cmd(1, "a", 300))) == "context_overflow");
  CHECK(code_of(cl.call(op("bogus"))) == "bad_request");
  check_coded_done(cl, llama);

  // Two sequences on two models, run in alternating turns of 3 steps.
  CHECK(is_ok(cl.call(add_cmd(1, "a", 8))));
  CHECK(is_ok(cl.call(add_cmd(2, "b", 8))));
  for (int turn = 0; turn < 3; turn++) {
    Json ra = cl.call(run_cmd("a", 3)), rb = cl.call(run_cmd("b", 3));
    CHECK(is_ok(ra) && is_ok(rb));
  }
  CHECK(tokens_of(cl.events, 1).size() == 8 && tokens_of(cl.events, 2).size() == 8);
  CHECK(done_of(cl.events, 1)->find("reason")->as_string() == "length");
  CHECK(done_of(cl.events, 2)->find("completion_tokens")->as_int() == 8);
  Json idle = cl.call(run_cmd("a", 5));
  CHECK(idle.find("reason")->as_string() == "idle" && idle.find("steps")->as_int() == 0);
  CHECK(cl.call(run_cmd("nope", 5)).find("reason")->as_string() == "not_resident");

  // A long turn is cut by preempt at a token boundary; queued turns are dropped.
  CHECK(is_ok(cl.call(add_cmd(3, "a", 200))));
  const int64_t long_turn = cl.send(run_cmd("a", 1000));
  while (tokens_of(cl.events, 3).empty()) {  // the turn is running
    std::string frame;
    CHECK(read_frame(cl.fd, frame));
    cl.events.push_back(Json::parse(frame));
  }
  const int64_t queued = cl.send(run_cmd("b", 10));
  const int64_t pre = cl.send(op("preempt"));
  Json cut = cl.reply(long_turn), dropped = cl.reply(queued), pre_reply = cl.reply(pre);
  CHECK(cut.find("reason")->as_string() == "preempted");
  CHECK(dropped.find("reason")->as_string() == "preempted" && dropped.find("steps")->as_int() == 0);
  CHECK(pre_reply.find("steps")->as_int() == cut.find("steps")->as_int());
  CHECK(cut.find("steps")->as_int() >= 1 && cut.find("steps")->as_int() < 200);
  std::cout << "preempt cut a turn after " << cut.find("steps")->as_int() << " steps\n";

  Json park = op("park");
  park.set("seq", 3);
  Json parked = cl.call(park);
  CHECK(is_ok(parked) && parked.find("bytes")->as_int() > 0);
  Json stats = cl.call(op("stats"));
  CHECK(state_of(stats, "a") == "resident" && state_of(stats, "b") == "resident");
  CHECK(state_of(stats, "big") == "mapped");  // did not fit the arena; kept mapped for a retry
  CHECK(stats.find("memory")->find("mapped_bytes")->as_int() > 0);
  CHECK(stats.find("memory")->find("kv_blocks_used")->as_int() == 0);
  Json restore = op("restore");
  restore.set("seq", 3);
  CHECK(is_ok(cl.call(restore)));
  Json evict = op("evict");
  evict.set("model", "a");
  CHECK(code_of(cl.call(evict)) == "busy");
  Json cancel = op("cancel");
  cancel.set("seq", 3);
  CHECK(is_ok(cl.call(cancel)));
  CHECK(done_of(cl.events, 3)->find("reason")->as_string() == "cancelled");
  evict.set("force", true);
  CHECK(cl.call(evict).find("bytes")->as_int() > 0);
  check_mapping_lifecycle(cl, llama, tmp);

  // A malformed frame closes the connection; a new client is served.
  CHECK(write_frame(cl.fd, "{not json"));
  std::string payload;
  CHECK(!read_frame(cl.fd, payload));
  ::close(cl.fd);
  Client second;
  second.connect_to(socket_path);
  CHECK(is_ok(second.call(op("hello"))));
  CHECK(is_ok(second.call(op("shutdown"))));
  int status = 0;
  ::waitpid(pid, &status, 0);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  std::cout << "protocol: all commands and events behaved\nPASS\n";
  return 0;
}
