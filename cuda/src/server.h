// `tidepool-engine serve`: one client at a time on a Unix socket. Three threads:
//   reader  - reads frames and queues them (so commands arrive while a turn runs);
//   loader  - maps, validates and prepares model files, and copies weights into slots, off the step
//             thread, so a load (a prefetch) overlaps another model's decode;
//   step    - owns the EngineCore: applies queued commands at token boundaries, then runs one step of the
//             current turn. Every reply and event is written from this thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "engine_core.h"
#include "json.h"
#include "work_queue.h"

namespace tidepool {

constexpr const char* kEngineVersion = "0.1.0";

struct ServerOptions {
  std::string socket_path;
  std::string backend = "cpu";
  BackendOptions backend_options;
  EngineOptions engine;
};

class Server {
 public:
  explicit Server(const ServerOptions& options);
  ~Server();
  int run();  // returns the process exit code

 private:
  struct Inbound {
    enum class Kind { Command, Mapped, Copied, Disconnect } kind = Kind::Command;
    uint64_t connection = 0;
    Json command;
    std::string key;               // Mapped, Copied
    std::unique_ptr<Model> model;  // Mapped, on success
    int slot = -1;                 // Copied, on success
    std::string error_code, error_message;
  };
  // Loader work: map a directory (then prepare it for copies), or copy a mapped model into a slot.
  struct LoadJob {
    enum class Kind { Map, Copy } kind = Kind::Map;
    std::string key, dir;          // Map
    EngineCore::InstallPlan plan;  // Copy: weights already reserved on the step thread
  };
  struct Waiter {
    uint64_t connection;
    Json id;
  };
  // A model on its way in: `map` waiters are answered once it is mapped, `load` waiters once resident.
  struct PendingLoad {
    std::chrono::steady_clock::time_point start;
    std::vector<Waiter> map_waiters;
    std::vector<Waiter> load_waiters;
    bool copying = false;
  };
  struct Turn {
    Json id;
    std::string model;
    int64_t max_steps = 0;
    int64_t steps = 0;
    std::chrono::steady_clock::time_point start;
  };

  void serve_connection(int fd);
  void reader_main(int fd, uint64_t connection);
  void loader_main();
  bool step_thread_iteration();  // false once the client is gone

  void handle(Inbound& item);
  void handle_command(const Json& cmd);
  void handle_load(const Json& id, const Json& cmd, bool to_slot);
  void handle_mapped(Inbound& item);
  void handle_copied(Inbound& item);
  void start_mapping(const std::string& key, const std::string& dir);
  void start_copy(const std::string& key);
  void answer(std::vector<Waiter>& waiters, const std::string& code, const std::string& message, Json fields);
  void handle_evict(const Json& id, const Json& cmd);
  void handle_unmap(const Json& id, const Json& cmd);
  void sweep_stale_mappings();
  void handle_add(const Json& id, const Json& cmd);
  void handle_preempt(const Json& id);
  [[noreturn]] void fail_device(const std::string& message);
  Json hello_reply() const;

  void start_turn();
  void run_turn_step();
  void end_turn(const char* reason);
  // Token-level preemption: ends the running turn at this boundary and drops every queued turn.
  int64_t preempt_at_token_boundary();

  void send(const Json& message);
  void reply_ok(const Json& id, Json fields = Json::object());
  void reply_error(const Json& id, const std::string& code, const std::string& message);
  void emit_done(const DoneEvent& done);
  void emit_step(const std::string& model, const StepResult& result);

  ServerOptions options_;
  std::unique_ptr<EngineCore> core_;
  WorkQueue<Inbound> inbound_;
  WorkQueue<std::optional<LoadJob>> load_jobs_;
  std::thread loader_;
  std::map<std::string, PendingLoad> loading_;
  std::deque<Turn> turns_;  // front is running once started
  bool turn_running_ = false;
  std::mutex write_mutex_;
  int client_fd_ = -1;
  uint64_t connection_ = 0;
  bool connected_ = false;
  bool shutdown_requested_ = false;
  std::chrono::steady_clock::time_point last_sweep_{};
};

}  // namespace tidepool
