// The engine exits when the process that started it dies by SIGKILL: an intermediate parent starts
// `tidepool-engine serve`, the test kills that parent once the engine is ready, and waits (bounded, on the
// engine's stdout reaching EOF, no sleeps) for the engine to exit with kExitOrphaned and the fatal line.
// Run twice: with PR_SET_PDEATHSIG armed, and with it off (TIDEPOOL_ENGINE_PDEATHSIG=0) so the watchdog
// thread alone must notice. The test is a child subreaper, so the orphaned engine becomes its child and
// its exit status can be read.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

#include "engine_process.h"
#include "json.h"
#include "process_guard.h"
#include "test_support.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

constexpr int kReadyTimeoutMs = 60'000;  // engine startup on a loaded machine
constexpr int kExitBoundMs = 5'000;      // "within a few seconds" of the parent's death

// True once fd reaches EOF before `bound_ms` passes (everything read is discarded).
bool eof_within(int fd, int bound_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(bound_ms);
  char buf[256];
  for (;;) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
    pollfd p{fd, POLLIN, 0};
    if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) <= 0) return false;
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n == 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

// Starts parent -> engine; returns the parent's pid, the engine's pid (from the parent) and the engine's stdout.
void start_family(const std::string& dir, bool pdeathsig, pid_t& parent, pid_t& engine, int& engine_stdout) {
  int out[2], pids[2];
  CHECK(::pipe(out) == 0 && ::pipe(pids) == 0);
  const std::string socket = dir + "/engine.sock", err = dir + "/engine.stderr";
  parent = ::fork();
  CHECK(parent >= 0);
  if (parent == 0) {  // the intermediate parent: starts the engine, reports its pid, then waits to be killed
    const pid_t child = ::fork();
    if (child == 0) {
      ::dup2(out[1], 1);
      const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      ::dup2(err_fd, 2);
      if (!pdeathsig) ::setenv("TIDEPOOL_ENGINE_PDEATHSIG", "0", 1);
      ::execl(TIDEPOOL_ENGINE_BINARY, "tidepool-engine", "serve", "--backend", "cpu", "--socket", socket.c_str(),
              "--memory-budget-bytes", "33554432", "--kv-budget-bytes", "4194304", "--threads", "1", (char*)nullptr);
      ::_exit(127);
    }
    const ssize_t wrote = ::write(pids[1], &child, sizeof child);
    (void)wrote;
    for (;;) ::pause();
  }
  ::close(out[1]);
  ::close(pids[1]);
  CHECK(::read(pids[0], &engine, sizeof engine) == sizeof engine);
  ::close(pids[0]);
  engine_stdout = out[0];
}

void check_exit_after_parent_killed(bool pdeathsig) {
  const std::string dir = make_temp_dir(pdeathsig ? "orphan-signal" : "orphan-watchdog");
  pid_t parent = -1, engine = -1;
  int engine_stdout = -1;
  start_family(dir, pdeathsig, parent, engine, engine_stdout);
  std::string ready;
  CHECK(read_line_within(engine_stdout, ready, kReadyTimeoutMs));
  CHECK(Json::parse(ready).find("ready")->as_bool());

  const auto killed_at = std::chrono::steady_clock::now();
  CHECK(::kill(parent, SIGKILL) == 0);
  CHECK(::waitpid(parent, nullptr, 0) == parent);
  const bool exited = eof_within(engine_stdout, kExitBoundMs);
  if (!exited) ::kill(engine, SIGKILL);  // do not leave it behind when the check fails
  int status = 0;
  CHECK(::waitpid(engine, &status, 0) == engine);  // ours: the test is a child subreaper
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed_at).count();
  const std::string line = last_nonempty_line(dir + "/engine.stderr");
  std::printf("%s: engine exited %.0f ms after its parent was killed; status %d; last line: %s\n",
              pdeathsig ? "PR_SET_PDEATHSIG + watchdog" : "watchdog alone", ms,
              WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status), line.c_str());
  CHECK(exited);
  CHECK(WIFEXITED(status) && WEXITSTATUS(status) == kExitOrphaned);
  CHECK(line.find("tidepool-engine: fatal: parent process " + std::to_string(parent) + " is gone") == 0);
  CHECK(::access((dir + "/engine.sock").c_str(), F_OK) != 0);  // the socket was unlinked
  ::close(engine_stdout);
}

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    std::printf("SKIP: PR_SET_CHILD_SUBREAPER is not permitted here, so the orphaned engine cannot be waited for\n");
    return kSkip;
  }
  check_exit_after_parent_killed(true);
  check_exit_after_parent_killed(false);
  std::printf("PASS\n");
  return 0;
}
