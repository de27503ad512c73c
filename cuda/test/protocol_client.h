// A protocol client for the socket-level tests: starts `tidepool-engine serve` on the CPU backend, waits
// for its ready line, and sends commands and collects replies and events in order.
#pragma once

#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "framing.h"
#include "json.h"
#include "test_support.h"

namespace tidepool::testing {

struct ProtocolClient {
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
      CHECK(!re);
      events.push_back(msg);
    }
  }
  Json call(Json cmd) { return reply(send(std::move(cmd))); }
};

// The engine process; killed with the test (PR_SET_PDEATHSIG) if a check fails first.
inline pid_t start_engine(const std::string& socket_path, const std::string& budget_bytes = "50331648",
                          const std::string& kv_bytes = "8388608") {
  ::signal(SIGPIPE, SIG_IGN);
  int out_pipe[2];
  CHECK(::pipe(out_pipe) == 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::dup2(out_pipe[1], 1);
    ::execl(TIDEPOOL_ENGINE_BINARY, "tidepool-engine", "serve", "--backend", "cpu", "--socket", socket_path.c_str(),
            "--memory-budget-bytes", budget_bytes.c_str(), "--kv-budget-bytes", kv_bytes.c_str(), "--threads", "2",
            (char*)nullptr);
    ::_exit(127);
  }
  ::close(out_pipe[1]);
  std::string line;
  char c;
  while (::read(out_pipe[0], &c, 1) == 1 && c != '\n') line += c;
  ::close(out_pipe[0]);
  CHECK(Json::parse(line).find("ready")->as_bool());
  return pid;
}

inline Json op(const std::string& name) {
  Json j = Json::object();
  j.set("op", name);
  return j;
}

inline bool is_ok(const Json& r) { return r.find("type")->as_string() == "ok"; }
inline std::string code_of(const Json& r) { return r.find("code") ? r.find("code")->as_string() : ""; }
inline std::string message_of(const Json& r) { return r.find("message") ? r.find("message")->as_string() : ""; }

// Step-event items ([seq, token, ...]) of one sequence, in order.
inline std::vector<Json> items_of(const std::vector<Json>& events, int64_t seq) {
  std::vector<Json> out;
  for (const Json& e : events)
    if (e.find("type")->as_string() == "step")
      for (const Json& item : e.find("tokens")->as_array())
        if (item.as_array()[0].as_int() == seq) out.push_back(item);
  return out;
}

inline const Json* done_of(const std::vector<Json>& events, int64_t seq) {
  for (const Json& e : events)
    if (e.find("type")->as_string() == "done" && e.find("seq")->as_int() == seq) return &e;
  return nullptr;
}

}  // namespace tidepool::testing
