#include "server.h"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <iostream>

#include "errors.h"
#include "framing.h"
#include "process_guard.h"

namespace tidepool {

namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

Server::Server(const ServerOptions& options) : options_(options) {
  core_ = std::make_unique<EngineCore>(make_backend(options.backend, options.backend_options), options.engine);
  loader_ = std::thread([this] { loader_main(); });
}

Server::~Server() {
  load_jobs_.push(std::nullopt);
  loader_.join();
}

int Server::run() {
  sockaddr_un addr{};
  if (options_.socket_path.size() >= sizeof(addr.sun_path)) {
    std::cerr << "tidepool-engine: fatal: bad_request: socket path too long\n";
    return kExitUsage;
  }
  set_socket_to_unlink(options_.socket_path);
  ::signal(SIGPIPE, SIG_IGN);
  int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  addr.sun_family = AF_UNIX;
  std::strcpy(addr.sun_path, options_.socket_path.c_str());
  ::unlink(addr.sun_path);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 4) != 0) {
    std::cerr << "tidepool-engine: fatal: cannot listen on " << options_.socket_path << ": " << std::strerror(errno)
              << "\n";
    return kExitStartup;
  }
  Json ready = Json::object();
  ready.set("ready", true);
  ready.set("socket", options_.socket_path);
  ready.set("backend", core_->backend().name());
  std::cout << ready.dump() << std::endl;
  while (!shutdown_requested_) {
    int fd = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      std::cerr << "tidepool-engine: accept failed: " << std::strerror(errno) << "\n";
      break;
    }
    serve_connection(fd);
  }
  ::close(listener);
  ::unlink(addr.sun_path);
  return kExitOk;
}

void Server::serve_connection(int fd) {
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    client_fd_ = fd;
  }
  connection_++;
  connected_ = true;
  std::thread reader([this, fd, c = connection_] { reader_main(fd, c); });
  while (step_thread_iteration()) {
  }
  // The client is gone: every sequence ends, queued turns are dropped.
  std::vector<DoneEvent> dropped;
  core_->cancel_all(dropped);
  turns_.clear();
  turn_running_ = false;
  {
    std::lock_guard<std::mutex> lock(write_mutex_);
    client_fd_ = -1;
  }
  ::shutdown(fd, SHUT_RDWR);
  reader.join();
  ::close(fd);
}

void Server::reader_main(int fd, uint64_t connection) {
  std::string payload;
  for (;;) {
    Inbound item;
    item.connection = connection;
    if (!read_frame(fd, payload)) {
      item.kind = Inbound::Kind::Disconnect;
      inbound_.push(std::move(item));
      return;
    }
    try {
      item.command = Json::parse(payload);
      if (!item.command.is_object()) throw JsonError("frame is not a JSON object");
    } catch (const JsonError& e) {
      std::cerr << "tidepool-engine: closing connection: " << e.what() << "\n";
      item.kind = Inbound::Kind::Disconnect;
      inbound_.push(std::move(item));
      return;
    }
    inbound_.push(std::move(item));
  }
}

void Server::loader_main() {
  for (;;) {
    std::optional<LoadJob> job = load_jobs_.pop();
    if (!job) return;
    Inbound done;
    done.key = job->key;
    done.kind = job->kind == LoadJob::Kind::Map ? Inbound::Kind::Mapped : Inbound::Kind::Copied;
    try {
      if (job->kind == LoadJob::Kind::Map) {
        done.model = load_model_dir(job->dir);
        done.model->prefault();
        core_->backend().prepare_host(*done.model);
      } else {
        done.slot = core_->backend().load_slot(*job->plan.model, job->plan.layout);
      }
    } catch (const EngineError& e) {
      done.error_code = e.code();
      done.error_message = e.what();
    } catch (const std::exception& e) {
      done.error_code = "internal";
      done.error_message = e.what();
    }
    inbound_.push(std::move(done));
  }
}

// Applies every queued command (a token boundary), then runs at most one step of the current turn.
bool Server::step_thread_iteration() {
  while (auto item = inbound_.try_pop()) {
    handle(*item);
    if (!connected_) return false;
  }
  if (!turn_running_ && !turns_.empty()) start_turn();
  if (turn_running_) {
    run_turn_step();
    return connected_;
  }
  Inbound item = inbound_.pop();
  handle(item);
  return connected_;
}

void Server::handle(Inbound& item) {
  switch (item.kind) {
    case Inbound::Kind::Disconnect:
      if (item.connection == connection_) connected_ = false;
      return;
    case Inbound::Kind::Mapped:
      handle_mapped(item);
      break;
    case Inbound::Kind::Copied:
      handle_copied(item);
      break;
    case Inbound::Kind::Command:
      if (item.connection == connection_) handle_command(item.command);
      return;
  }
  // The loader's waiters have their answer; a fault on the loader thread ends the process like any other.
  if (item.error_code == kDeviceLost) fail_device(item.error_message);
}

void Server::start_turn() {
  Turn& turn = turns_.front();
  turn.start = std::chrono::steady_clock::now();
  turn.steps = 0;
  turn_running_ = true;
  if (!core_->is_resident(turn.model)) end_turn("not_resident");
}

void Server::run_turn_step() {
  Turn& turn = turns_.front();
  if (turn.steps >= turn.max_steps) return end_turn("quota");
  if (!core_->is_resident(turn.model)) return end_turn("not_resident");
  StepResult result;
  try {
    result = core_->step(turn.model);
  } catch (const EngineError& e) {
    if (e.code() == kDeviceLost) fail_device(e.what());
    std::cerr << "tidepool-engine: step failed: " << e.code() << ": " << e.what() << "\n";
    return end_turn("idle");
  } catch (const std::exception& e) {
    std::cerr << "tidepool-engine: step failed: " << e.what() << "\n";
    return end_turn("idle");
  }
  for (const DoneEvent& d : result.done)
    if (!result.ran) emit_done(d);
  if (!result.ran) return end_turn("idle");
  turn.steps++;
  emit_step(turn.model, result);
  for (const DoneEvent& d : result.done) emit_done(d);
}

void Server::end_turn(const char* reason) {
  Turn turn = std::move(turns_.front());
  turns_.pop_front();
  turn_running_ = false;
  Json fields = Json::object();
  fields.set("steps", turn.steps);
  fields.set("reason", reason);
  fields.set("ms", ms_since(turn.start));
  reply_ok(turn.id, std::move(fields));
}

int64_t Server::preempt_at_token_boundary() {
  int64_t steps = 0;
  if (turn_running_) {
    steps = turns_.front().steps;
    end_turn("preempted");
  }
  while (!turns_.empty()) {
    Turn dropped = std::move(turns_.front());
    turns_.pop_front();
    Json fields = Json::object();
    fields.set("steps", 0);
    fields.set("reason", "preempted");
    fields.set("ms", 0);
    reply_ok(dropped.id, std::move(fields));
  }
  return steps;
}

// Every client waiting on something hears device_lost, then the process exits for its supervisor to start
// a fresh one: after a sticky fault every later call would fail the same way.
void Server::fail_device(const std::string& message) {
  for (Turn& turn : turns_) reply_error(turn.id, kDeviceLost, message);
  turns_.clear();
  turn_running_ = false;
  for (auto& [key, pending] : loading_) {
    answer(pending.map_waiters, kDeviceLost, message, Json());
    answer(pending.load_waiters, kDeviceLost, message, Json());
  }
  std::vector<DoneEvent> done;
  core_->fail_all(kDeviceLost, std::string(kDeviceLost) + ": " + message, done);
  for (const DoneEvent& d : done) emit_done(d);
  exit_fatal(kExitDeviceLost, std::string(kDeviceLost) + ": " + message +
                                  "; exiting so the engine is restarted on a fresh device context");
}

void Server::send(const Json& message) {
  std::lock_guard<std::mutex> lock(write_mutex_);
  if (client_fd_ < 0) return;
  if (!write_frame(client_fd_, message.dump())) ::shutdown(client_fd_, SHUT_RDWR);  // the reader sees EOF
}

void Server::reply_ok(const Json& id, Json fields) {
  Json out = Json::object();
  out.set("type", "ok");
  out.set("re", id);
  for (auto& kv : fields.as_object()) out.set(kv.first, kv.second);
  send(out);
}

void Server::reply_error(const Json& id, const std::string& code, const std::string& message) {
  Json out = Json::object();
  out.set("type", "error");
  out.set("re", id);
  out.set("code", code);
  out.set("message", message);
  send(out);
}

void Server::emit_done(const DoneEvent& d) {
  Json out = Json::object();
  out.set("type", "done");
  out.set("seq", d.seq);
  out.set("reason", d.reason);
  out.set("prompt_tokens", d.prompt_tokens);
  out.set("completion_tokens", d.completion_tokens);
  if (!d.message.empty()) out.set("message", d.message);
  if (!d.code.empty()) out.set("code", d.code);
  if (!d.embedding.empty()) {
    Json embedding = Json::array();
    for (float v : d.embedding) embedding.push(static_cast<double>(v));
    out.set("embedding", std::move(embedding));
  }
  send(out);
}

// {"logprob": F, "top": [[id, F], ...]}: the chosen token's and the best alternatives' logprobs.
static Json logprobs_json(const TokenEvent& t) {
  Json top = Json::array();
  for (const auto& [id, lp] : t.top_logprobs) {
    Json pair = Json::array();
    pair.push(static_cast<int64_t>(id));
    pair.push(static_cast<double>(lp));
    top.push(std::move(pair));
  }
  Json out = Json::object();
  out.set("logprob", static_cast<double>(t.logprob));
  out.set("top", std::move(top));
  return out;
}

void Server::emit_step(const std::string& model, const StepResult& result) {
  Json tokens = Json::array();
  for (const TokenEvent& t : result.tokens) {
    Json item = Json::array();
    item.push(t.seq);
    item.push(static_cast<int64_t>(t.token));
    if (!t.logits.empty()) {
      Json logits = Json::array();
      for (float f : t.logits) logits.push(static_cast<double>(f));
      item.push(std::move(logits));
    }
    if (t.has_logprob) item.push(logprobs_json(t));
    tokens.push(std::move(item));
  }
  Json out = Json::object();
  out.set("type", "step");
  out.set("model", model);
  out.set("ms", result.ms);
  out.set("tokens", std::move(tokens));
  send(out);
}

}  // namespace tidepool
