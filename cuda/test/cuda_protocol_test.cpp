// `tidepool-engine serve --backend cuda` over its socket, on the paths where the device says no:
//   - a model larger than the weights arena gets an out_of_memory reply; the engine keeps serving, and its
//     stats show the reservation it was given and a pinned (not staged) mapping;
//   - a memory budget larger than the device's free memory fails at startup (exit 1, out_of_memory line);
//   - a device fault (TIDEPOOL_CUDA_INJECT_FAULT=forward: a kernel reads an unmapped address) answers the
//     running turn with device_lost, ends the sequence with a device_lost message, and exits 3 with a
//     last stderr line naming the forward that was running; with TIDEPOOL_CUDA_SYNC_LAUNCHES=1 the line
//     names the launcher of the faulting kernel.
// Skips (77) only on a machine without a GPU.
#include <cstdio>

#include "cuda_device.h"
#include "engine_process.h"
#include "gpu_test_support.h"
#include "process_guard.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

constexpr const char* kBudget = "100663296";  // 96 MiB: a weights arena of about 74 MiB
constexpr const char* kKvBudget = "16777216";

Json load_cmd(const std::string& model, const std::string& dir) {
  Json j = command("load");
  j.set("model", model);
  j.set("dir", dir);
  return j;
}

Json add_cmd(int64_t seq, const std::string& model, int max_tokens) {
  Json j = command("add");
  j.set("seq", seq);
  j.set("model", model);
  Json prompt = Json::array();
  for (int32_t t : prompt_tokens(12, 1024, 1)) prompt.push(static_cast<int64_t>(t));
  j.set("prompt", std::move(prompt));
  j.set("max_tokens", max_tokens);
  return j;
}

Json run_cmd(const std::string& model, int steps) {
  Json j = command("run");
  j.set("model", model);
  j.set("max_steps", steps);
  return j;
}

const Json* done_event(const std::vector<Json>& events, int64_t seq) {
  for (const Json& e : events)
    if (e.find("type")->as_string() == "done" && e.find("seq")->as_int() == seq) return &e;
  return nullptr;
}

bool is_ok(const Json& reply) { return reply.find("type")->as_string() == "ok"; }

void out_of_memory_replies(const TempDir& tmp) {
  EngineProcess engine(tmp.path,
                       {"--backend", "cuda", "--memory-budget-bytes", kBudget, "--kv-budget-bytes", kKvBudget});
  expect(!engine.ready.is_null(), "cuda engine with a 96 MiB budget starts");
  if (engine.ready.is_null()) return;
  ProtocolClient cl(engine.socket);
  expect(is_ok(cl.call(command("hello"))), "hello");
  const Json big = cl.call(load_cmd("big", tmp / "big"));
  expect(code_of(big) == "out_of_memory",
         "load of a model larger than the weights arena: out_of_memory (" + code_of(big) + ")");
  expect(is_ok(cl.call(load_cmd("small", tmp / "small"))), "a model that fits still loads");
  const Json stats = cl.call(command("stats"));
  const Json& mem = *stats.find("memory");
  expect(mem.find("device_reserved_bytes")->as_int() == 100663296 && mem.find("budget_bytes")->as_int() == 100663296,
         "stats: the reservation is exactly the budget");
  expect(mem.find("host_pinned_bytes")->as_int() > 0 && mem.find("host_staged_bytes")->as_int() == 0,
         "stats: the mapping is pinned, nothing goes through the staging ring");
  expect(is_ok(cl.call(add_cmd(1, "small", 4))), "add");
  const Json run = cl.call(run_cmd("small", 10));
  const Json* done = done_event(cl.events, 1);
  expect(is_ok(run) && done && done->find("reason")->as_string() == "length", "the small model generates its 4 tokens");
  expect(is_ok(cl.call(command("shutdown"))), "shutdown");
  const int status = engine.wait_exit();
  expect(WIFEXITED(status) && WEXITSTATUS(status) == kExitOk, "shutdown exits 0");
}

void budget_past_the_device(const TempDir& tmp) {
  EngineProcess engine(tmp.path, {"--backend", "cuda", "--memory-budget-bytes", "1125899906842624"});  // 1 PiB
  const int status = engine.wait_exit();
  const std::string line = engine.last_stderr_line();
  expect(engine.ready.is_null() && WIFEXITED(status) && WEXITSTATUS(status) == kExitStartup,
         "a 1 PiB budget: no ready line, exit 1");
  expect(line.find("out_of_memory") != std::string::npos && line.find("exceeds") != std::string::npos,
         "last line: " + line);
}

void device_fault(const TempDir& tmp, bool sync_launches) {
  std::vector<std::pair<std::string, std::string>> env = {{"TIDEPOOL_CUDA_INJECT_FAULT", "forward"}};
  if (sync_launches) env.push_back({"TIDEPOOL_CUDA_SYNC_LAUNCHES", "1"});
  const std::string mode = sync_launches ? "synchronous launches" : "default";
  EngineProcess engine(tmp.path,
                       {"--backend", "cuda", "--memory-budget-bytes", kBudget, "--kv-budget-bytes", kKvBudget}, env);
  expect(!engine.ready.is_null(), mode + ": engine with the fault hook starts");
  if (engine.ready.is_null()) return;
  ProtocolClient cl(engine.socket);
  expect(is_ok(cl.call(load_cmd("small", tmp / "small"))) && is_ok(cl.call(add_cmd(7, "small", 4))),
         mode + ": load and add");
  const Json run = cl.call(run_cmd("small", 4));
  expect(code_of(run) == "device_lost", mode + ": the running turn is answered device_lost (" + code_of(run) + ")");
  cl.drain();
  const Json* done = done_event(cl.events, 7);
  expect(done && done->find("reason")->as_string() == "error" && done->find("code") &&
             done->find("code")->as_string() == "device_lost" &&
             done->find("message")->as_string().rfind("device_lost:", 0) == 0,
         mode + ": the sequence ends with reason error, code device_lost, message device_lost: ...");
  const int status = engine.wait_exit();
  const std::string line = engine.last_stderr_line();
  expect(WIFEXITED(status) && WEXITSTATUS(status) == kExitDeviceLost,
         mode + ": the engine exits 3 for its supervisor to restart it");
  expect(
      line.rfind("tidepool-engine: fatal: device_lost:", 0) == 0 && line.find("forward of slot") != std::string::npos,
      mode + ": last line names the forward: " + line);
  if (sync_launches)
    expect(line.find("kv_cache.cu") != std::string::npos,
           "synchronous launches: the line names the faulting kernel's launcher");
  else
    expect(line.find("TIDEPOOL_CUDA_SYNC_LAUNCHES") != std::string::npos,
           "default: the line says how to find the faulting kernel");
}

}  // namespace

int main() {
  ::signal(SIGPIPE, SIG_IGN);
  if (const int gate = cuda::gpu_test_gate("cuda_protocol_test")) return gate;
  TempDir tmp("cuda-protocol");
  SynthSpec small;
  small.architecture = "Qwen2ForCausalLM";
  small.dtype = "BF16";
  small.qkv_bias = true;
  small.hidden = 256;
  small.intermediate = 512;
  small.vocab = 1024;
  small.max_positions = 1024;
  write_synthetic_model(tmp / "small", small);
  SynthSpec big = small;  // ~100 MB of bf16: more than the arena
  big.hidden = 1024;
  big.intermediate = 2816;
  big.layers = 4;
  big.heads = 8;
  big.vocab = 32000;
  write_synthetic_model(tmp / "big", big);
  out_of_memory_replies(tmp);
  budget_past_the_device(tmp);
  device_fault(tmp, false);
  device_fault(tmp, true);
  std::printf(gpu_failures() ? "%d FAILED\n" : "all cuda protocol tests passed\n", gpu_failures());
  return gpu_failures() ? 1 : 0;
}
