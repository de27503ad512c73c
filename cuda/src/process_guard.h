// How the engine process ends. Its supervisor (the node runtime, docs/runtime.md) restarts it after any
// death and reports the exit status and the last stderr line, so every fatal path writes one clear last
// line starting "tidepool-engine: fatal:" and exits with a status from this table:
//
//   0  kExitOk          `shutdown`, SIGTERM
//   1  kExitStartup     startup failed; the line names the protocol error code ("out_of_memory: ...")
//   2  kExitUsage       bad command line
//   3  kExitDeviceLost  the device faulted (device_lost): the context is unusable, restart the engine
//   4  kExitOrphaned    the process that started the engine is gone (any signal, SIGKILL included)
//   SIGSEGV, SIGABRT... a crash; the line names the signal (or the uncaught exception) before it re-raises
//
// The engine must not outlive its parent holding a GPU: watch_parent arms PR_SET_PDEATHSIG (SIGHUP) and a
// watchdog thread that waits on a pidfd of the parent (polling getppid every 200 ms where pidfd_open is
// unavailable). Both re-check getppid() after arming, so a parent that died before that is caught too.
#pragma once

#include <sys/types.h>
#include <string>

namespace tidepool {

constexpr int kExitOk = 0;
constexpr int kExitStartup = 1;
constexpr int kExitUsage = 2;
constexpr int kExitDeviceLost = 3;
constexpr int kExitOrphaned = 4;

// The socket file every exit path unlinks (async-signal-safe copy). Paths longer than a Unix socket path
// are refused by the server before this matters.
void set_socket_to_unlink(const std::string& path);

// SIGTERM: unlink the socket, exit 0. SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT and std::terminate: the
// fatal line, then the default action (so the exit status still shows the signal). SIGPIPE ignored.
void install_exit_handlers();

// `parent` is the pid that must stay alive (the --parent-pid flag, else getppid() at startup). Returns after
// arming; exits kExitOrphaned (from a signal handler or the watchdog thread) once the parent is gone.
// TIDEPOOL_ENGINE_PDEATHSIG=0 leaves the signal unarmed so tests can check the watchdog on its own.
void watch_parent(pid_t parent);

// The fatal line ("tidepool-engine: fatal: <what>"), the socket unlinked, then _exit(code): no destructor
// runs, since a faulted device or a stuck loader thread could hang them.
[[noreturn]] void exit_fatal(int code, const std::string& what);

}  // namespace tidepool
