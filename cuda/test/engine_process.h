// Tests that run the real `tidepool-engine serve` binary: start it with extra environment, wait (bounded)
// for its ready line, speak the protocol over its socket, and read how it ended (exit status, last stderr
// line). Every wait is on an event (a line, a frame, EOF) with a deadline; nothing sleeps.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "framing.h"
#include "json.h"
#include "test_support.h"

namespace tidepool::testing {

// One line from fd before `timeout_ms`; false on EOF or timeout.
inline bool read_line_within(int fd, std::string& line, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  line.clear();
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    char c;
    if (::read(fd, &c, 1) != 1) return false;
    if (c == '\n') return true;
    line += c;
  }
}

inline std::string last_nonempty_line(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line))
    if (!line.empty()) last = line;
  return last;
}

struct EngineProcess {
  pid_t pid = -1;
  int out = -1;  // the engine's stdout
  std::string socket, stderr_path;
  Json ready;  // the ready line, null when the engine exited first

  // Starts the engine with `args` after "serve --socket <dir>/engine.sock" and `env` set; waits for ready.
  EngineProcess(const std::string& dir, const std::vector<std::string>& args,
                const std::vector<std::pair<std::string, std::string>>& env = {}, int ready_timeout_ms = 120'000)
      : socket(dir + "/engine.sock"), stderr_path(dir + "/engine.stderr") {
    int pipe_fds[2];
    CHECK(::pipe(pipe_fds) == 0);
    pid = ::fork();
    CHECK(pid >= 0);
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);  // a failed check must not leave the engine running
      ::dup2(pipe_fds[1], 1);
      const int err = ::open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err, 2);
      for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
      std::vector<std::string> all = {"tidepool-engine", "serve", "--socket", socket};
      all.insert(all.end(), args.begin(), args.end());
      std::vector<char*> argv;
      for (std::string& a : all) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(TIDEPOOL_ENGINE_BINARY, argv.data());
      ::_exit(127);
    }
    ::close(pipe_fds[1]);
    out = pipe_fds[0];
    std::string line;
    if (read_line_within(out, line, ready_timeout_ms)) ready = Json::parse(line);
  }
  ~EngineProcess() {
    if (pid > 0) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
    if (out >= 0) ::close(out);
  }

  // Waits (bounded by stdout closing) for the exit; returns the status as waitpid gives it.
  int wait_exit(int timeout_ms = 30'000) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[256];
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      pollfd p{out, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) break;
      if (::read(out, buf, sizeof buf) <= 0) break;
    }
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) != pid) {  // still running past the bound: end it, report a kill
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
    }
    pid = -1;
    return status;
  }
  std::string last_stderr_line() const { return last_nonempty_line(stderr_path); }
};

// A protocol client: commands with increasing ids, events kept in arrival order.
struct ProtocolClient {
  int fd = -1;
  int64_t next_id = 1;
  std::vector<Json> events;

  explicit ProtocolClient(const std::string& path) {
    fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
    CHECK(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~ProtocolClient() { ::close(fd); }

  Json call(Json cmd) {
    const int64_t id = next_id++;
    cmd.set("id", id);
    CHECK(write_frame(fd, cmd.dump()));
    for (;;) {
      std::string payload;
      CHECK(read_frame(fd, payload));
      Json msg = Json::parse(payload);
      const Json* re = msg.find("re");
      if (re && re->is_int() && re->as_int() == id) return msg;
      events.push_back(std::move(msg));
    }
  }
  // Reads events until the engine closes the connection.
  void drain() {
    std::string payload;
    while (read_frame(fd, payload)) events.push_back(Json::parse(payload));
  }
};

inline Json command(const std::string& op) {
  Json j = Json::object();
  j.set("op", op);
  return j;
}

inline std::string code_of(const Json& reply) {
  const Json* code = reply.find("code");
  return code && code->is_string() ? code->as_string() : "";
}

}  // namespace tidepool::testing
