// tidepool-engine: `serve`, `forward` and `info` (docs/engine-protocol.md).
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include "errors.h"
#include "forward_command.h"
#include "process_guard.h"
#include "server.h"

using namespace tidepool;

namespace {

void usage() {
  std::cerr
      << "usage:\n"
         "  tidepool-engine serve --backend cpu|cuda --socket PATH [--memory-budget-bytes N]\n"
         "                        [--kv-budget-bytes N] [--scratch-bytes N] [--kv-block-tokens 16] [--threads N]\n"
         "                        [--device 0] [--parent-pid PID]\n"
         "  tidepool-engine forward --backend cpu|cuda --model-dir DIR --tokens 1,2,3 [--generate N] [--threads N]\n"
         "  tidepool-engine info\n";
}

std::map<std::string, std::string> parse_flags(int argc, char** argv) {
  std::map<std::string, std::string> flags;
  for (int i = 2; i < argc; i++) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0 || i + 1 >= argc) throw EngineError("bad_request", "bad argument " + arg);
    flags[arg.substr(2)] = argv[++i];
  }
  return flags;
}

long long int_flag(const std::map<std::string, std::string>& flags, const std::string& name, long long fallback) {
  auto it = flags.find(name);
  if (it == flags.end()) return fallback;
  char* end = nullptr;
  long long v = std::strtoll(it->second.c_str(), &end, 10);
  if (!end || *end || v < 0) throw EngineError("bad_request", "--" + name + " must be a non-negative integer");
  return v;
}

std::string flag(const std::map<std::string, std::string>& flags, const std::string& name,
                 const std::string& fallback) {
  auto it = flags.find(name);
  return it == flags.end() ? fallback : it->second;
}

std::vector<int32_t> parse_tokens(const std::string& text) {
  std::vector<int32_t> out;
  std::stringstream ss(text);
  std::string part;
  while (std::getline(ss, part, ',')) {
    char* end = nullptr;
    long v = std::strtol(part.c_str(), &end, 10);
    if (part.empty() || *end || v < 0 || v > INT32_MAX) throw EngineError("bad_request", "bad token id '" + part + "'");
    out.push_back(static_cast<int32_t>(v));
  }
  return out;
}

int cmd_info() {
  Json out = Json::object();
  Json backends = Json::array();
  for (const std::string& b : built_backends()) backends.push(b);
  out.set("backends", std::move(backends));
  out.set("version", kEngineVersion);
  std::cout << out.dump() << std::endl;
  return 0;
}

int cmd_serve(const std::map<std::string, std::string>& flags) {
  ServerOptions o;
  o.socket_path = flag(flags, "socket", "");
  if (o.socket_path.empty()) throw EngineError("bad_request", "--socket is required");
  o.backend = flag(flags, "backend", "cpu");
  o.backend_options.threads = static_cast<int>(int_flag(flags, "threads", 0));
  o.backend_options.device = static_cast<int>(int_flag(flags, "device", 0));
  o.engine.memory_budget_bytes = static_cast<size_t>(int_flag(flags, "memory-budget-bytes", 0));  // 0: the backend's
  o.engine.kv_budget_bytes = static_cast<size_t>(int_flag(flags, "kv-budget-bytes", 0));
  o.engine.scratch_bytes = static_cast<size_t>(int_flag(flags, "scratch-bytes", 0));
  o.engine.block_tokens = static_cast<int>(int_flag(flags, "kv-block-tokens", 16));
  Server server(o);
  return server.run();
}

int cmd_forward(const std::map<std::string, std::string>& flags) {
  ForwardRequest r;
  r.backend = flag(flags, "backend", "cpu");
  r.backend_options.threads = static_cast<int>(int_flag(flags, "threads", 0));
  r.backend_options.device = static_cast<int>(int_flag(flags, "device", 0));
  r.model_dir = flag(flags, "model-dir", "");
  if (r.model_dir.empty()) throw EngineError("bad_request", "--model-dir is required");
  r.tokens = parse_tokens(flag(flags, "tokens", ""));
  r.generate = static_cast<int>(int_flag(flags, "generate", 16));
  std::string out;
  run_forward(r).dump_to(out);
  std::cout << out << std::endl;
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const pid_t parent = ::getppid();  // first thing: the parent-death race check compares against it
  if (argc < 2) {
    usage();
    return kExitUsage;
  }
  const std::string command = argv[1];
  try {
    if (command == "info") return cmd_info();
    const auto flags = parse_flags(argc, argv);
    if (command != "serve" && command != "forward") {
      usage();
      return kExitUsage;
    }
    install_exit_handlers();
    watch_parent(static_cast<pid_t>(int_flag(flags, "parent-pid", parent)));
    return command == "serve" ? cmd_serve(flags) : cmd_forward(flags);
  } catch (const EngineError& e) {
    if (e.code() == kDeviceLost) exit_fatal(kExitDeviceLost, e.code() + ": " + e.what());
    std::cerr << "tidepool-engine: fatal: " << e.code() << ": " << e.what() << std::endl;
    return kExitStartup;
  } catch (const std::exception& e) {
    std::cerr << "tidepool-engine: fatal: internal: " << e.what() << std::endl;
    return kExitStartup;
  }
}
