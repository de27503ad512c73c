#include "process_guard.h"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <thread>

namespace tidepool {

namespace {

char g_socket_path[sizeof(sockaddr_un::sun_path)] = {0};
char g_orphan_line[160] = {0};  // prepared by watch_parent, written by the signal handler

void unlink_socket() {
  if (g_socket_path[0]) ::unlink(g_socket_path);
}

void write_stderr(const char* text) {
  const ssize_t ignored = ::write(2, text, std::strlen(text));
  (void)ignored;
}

void on_sigterm(int) {
  unlink_socket();
  ::_exit(kExitOk);
}

void on_parent_gone(int) {
  write_stderr(g_orphan_line);
  unlink_socket();
  ::_exit(kExitOrphaned);
}

const char* signal_line(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "tidepool-engine: fatal: signal SIGSEGV (segmentation fault)\n";
    case SIGBUS:
      return "tidepool-engine: fatal: signal SIGBUS (bus error)\n";
    case SIGILL:
      return "tidepool-engine: fatal: signal SIGILL (illegal instruction)\n";
    case SIGFPE:
      return "tidepool-engine: fatal: signal SIGFPE (arithmetic exception)\n";
    case SIGABRT:
      return "tidepool-engine: fatal: signal SIGABRT (aborted)\n";
    default:
      return "tidepool-engine: fatal: signal\n";
  }
}

void on_crash(int sig) {
  write_stderr(signal_line(sig));
  unlink_socket();
  ::signal(sig, SIG_DFL);
  ::raise(sig);
}

void on_terminate() {
  std::string what = "uncaught exception";
  if (std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      what += std::string(": ") + ex.what();
    } catch (...) {
    }
  }
  std::cerr << "tidepool-engine: fatal: " << what << std::endl;
  unlink_socket();
  ::signal(SIGABRT, SIG_DFL);
  std::abort();
}

bool parent_gone(pid_t parent) { return ::getppid() != parent; }

// Blocks until `parent` ends: on a pidfd where the kernel has pidfd_open, else by polling getppid().
void wait_for_parent_death(pid_t parent) {
#ifdef SYS_pidfd_open
  const int fd = static_cast<int>(::syscall(SYS_pidfd_open, parent, 0));
  if (fd >= 0) {
    if (parent_gone(parent)) return;  // it died before the pidfd existed
    pollfd p{fd, POLLIN, 0};
    while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
    }
    return;
  }
#endif
  while (!parent_gone(parent)) std::this_thread::sleep_for(std::chrono::milliseconds(200));
}

}  // namespace

void set_socket_to_unlink(const std::string& path) {
  if (path.size() >= sizeof(g_socket_path)) return;
  std::memcpy(g_socket_path, path.c_str(), path.size() + 1);
}

void install_exit_handlers() {
  ::signal(SIGTERM, on_sigterm);
  ::signal(SIGPIPE, SIG_IGN);
  for (int sig : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) ::signal(sig, on_crash);
  std::set_terminate(on_terminate);
}

void watch_parent(pid_t parent) {
  std::snprintf(g_orphan_line, sizeof g_orphan_line,
                "tidepool-engine: fatal: parent process %d is gone; exiting so no engine outlives its node\n",
                static_cast<int>(parent));
  const char* pdeathsig = std::getenv("TIDEPOOL_ENGINE_PDEATHSIG");
  if (!(pdeathsig && std::strcmp(pdeathsig, "0") == 0)) {
    ::signal(SIGHUP, on_parent_gone);
    ::prctl(PR_SET_PDEATHSIG, SIGHUP);
  }
  if (parent_gone(parent)) on_parent_gone(0);  // died before the signal was armed
  std::thread([parent] {
    wait_for_parent_death(parent);
    on_parent_gone(0);
  }).detach();
}

void exit_fatal(int code, const std::string& what) {
  std::cout.flush();
  std::cerr << "tidepool-engine: fatal: " << what << std::endl;
  unlink_socket();
  ::_exit(code);
}

}  // namespace tidepool
