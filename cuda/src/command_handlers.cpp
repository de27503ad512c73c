// One handler per protocol command (docs/engine-protocol.md). Runs on the step thread, between steps.
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "errors.h"
#include "server.h"

namespace tidepool {

namespace {

const Json& field(const Json& cmd, const char* key) {
  const Json* v = cmd.find(key);
  if (!v) throw EngineError("bad_request", std::string("missing field ") + key);
  return *v;
}

std::string string_field(const Json& cmd, const char* key) {
  const Json& v = field(cmd, key);
  if (!v.is_string() || v.as_string().empty()) throw EngineError("bad_request", std::string(key) + " must be a non-empty string");
  return v.as_string();
}

int64_t int_field(const Json& cmd, const char* key) {
  const Json& v = field(cmd, key);
  if (!v.is_int()) throw EngineError("bad_request", std::string(key) + " must be an integer");
  return v.as_int();
}

double number_or(const Json& cmd, const char* key, double fallback) {
  const Json* v = cmd.find(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_number()) throw EngineError("bad_request", std::string(key) + " must be a number");
  return v->as_double();
}

std::vector<int32_t> token_list(const Json& cmd, const char* key, bool required) {
  const Json* v = cmd.find(key);
  std::vector<int32_t> out;
  if (!v || v->is_null()) {
    if (required) throw EngineError("bad_request", std::string("missing field ") + key);
    return out;
  }
  if (!v->is_array()) throw EngineError("bad_request", std::string(key) + " must be an array of token ids");
  for (const Json& t : v->as_array()) {
    if (!t.is_int() || t.as_int() < 0 || t.as_int() > INT32_MAX) throw EngineError("bad_request", std::string(key) + " holds a bad token id");
    out.push_back(static_cast<int32_t>(t.as_int()));
  }
  return out;
}

}  // namespace

Json Server::hello_reply() const {
  Json fields = Json::object();
  fields.set("backend", core_->backend().name());
  fields.set("version", kEngineVersion);
  fields.set("device", core_->backend().device_name());
  const Json stats = core_->stats_json({});
  fields.set("memory", *stats.find("memory"));
  fields.set("kv_block_tokens", core_->block_tokens());
  return fields;
}

void Server::handle_command(const Json& cmd) {
  const Json* idp = cmd.find("id");
  const Json id = idp ? *idp : Json();
  try {
    if (!idp || !idp->is_int()) throw EngineError("bad_request", "command needs an integer id");
    const Json* opp = cmd.find("op");
    if (!opp || !opp->is_string()) throw EngineError("bad_request", "command needs an op");
    const std::string& op = opp->as_string();
    if (op == "hello") return reply_ok(id, hello_reply());
    if (op == "load") return handle_load(id, cmd);
    if (op == "evict") return handle_evict(id, cmd);
    if (op == "add") return handle_add(id, cmd);
    if (op == "cancel") {
      DoneEvent done;
      if (core_->cancel(int_field(cmd, "seq"), &done)) emit_done(done);
      return reply_ok(id);
    }
    if (op == "run") {
      Turn turn;
      turn.id = id;
      turn.model = string_field(cmd, "model");
      turn.max_steps = int_field(cmd, "max_steps");
      turns_.push_back(std::move(turn));
      return;  // replied when the turn ends
    }
    if (op == "preempt") return handle_preempt(id);
    if (op == "park" || op == "restore") {
      const int64_t seq = int_field(cmd, "seq");
      KvMove move = op == "park" ? core_->park(seq) : core_->restore(seq);
      Json fields = Json::object();
      fields.set("bytes", static_cast<int64_t>(move.bytes));
      fields.set("ms", move.ms);
      return reply_ok(id, std::move(fields));
    }
    if (op == "stats") {
      std::vector<std::string> loading;
      for (const auto& kv : loading_) loading.push_back(kv.first);
      return reply_ok(id, core_->stats_json(loading));
    }
    if (op == "shutdown") {
      reply_ok(id);
      shutdown_requested_ = true;
      connected_ = false;
      return;
    }
    throw EngineError("bad_request", "unknown op " + op);
  } catch (const EngineError& e) {
    reply_error(id, e.code(), e.what());
  } catch (const std::exception& e) {
    reply_error(id, "internal", e.what());
  }
}

void Server::handle_load(const Json& id, const Json& cmd) {
  const std::string key = string_field(cmd, "model");
  const std::string dir = string_field(cmd, "dir");
  if (core_->is_resident(key)) {
    Json fields = Json::object();
    fields.set("bytes", static_cast<int64_t>(core_->model_bytes(key)));
    fields.set("ms", 0);
    fields.set("cached", true);
    return reply_ok(id, std::move(fields));
  }
  auto it = loading_.find(key);
  if (it == loading_.end()) {
    PendingLoad pending;
    pending.start = std::chrono::steady_clock::now();
    it = loading_.emplace(key, std::move(pending)).first;
    load_jobs_.push(LoadJob{key, dir});
  }
  it->second.waiters.push_back({connection_, id});
}

void Server::handle_load_done(Inbound& item) {
  auto it = loading_.find(item.key);
  if (it == loading_.end()) return;
  PendingLoad pending = std::move(it->second);
  loading_.erase(it);
  std::string code = item.error_code, message = item.error_message;
  size_t bytes = 0;
  if (code.empty()) {
    try {
      bytes = core_->install_model(item.key, std::move(item.model));
    } catch (const EngineError& e) {
      code = e.code();
      message = e.what();
    }
  }
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - pending.start).count();
  for (const Waiter& w : pending.waiters) {
    if (w.connection != connection_) continue;  // asked by a client that has gone
    if (!code.empty()) {
      reply_error(w.id, code, message);
      continue;
    }
    Json fields = Json::object();
    fields.set("bytes", static_cast<int64_t>(bytes));
    fields.set("ms", ms);
    fields.set("cached", false);
    reply_ok(w.id, std::move(fields));
  }
}

void Server::handle_evict(const Json& id, const Json& cmd) {
  const std::string key = string_field(cmd, "model");
  const Json* force = cmd.find("force");
  if (loading_.count(key)) throw EngineError("busy", "model " + key + " is still loading");
  std::vector<DoneEvent> done;
  const size_t bytes = core_->evict_model(key, force && force->is_bool() && force->as_bool(), done);
  for (const DoneEvent& d : done) emit_done(d);
  Json fields = Json::object();
  fields.set("bytes", static_cast<int64_t>(bytes));
  reply_ok(id, std::move(fields));
}

void Server::handle_add(const Json& id, const Json& cmd) {
  SequenceSpec spec;
  spec.id = int_field(cmd, "seq");
  spec.model = string_field(cmd, "model");
  spec.prompt = token_list(cmd, "prompt", true);
  const int64_t max_tokens = int_field(cmd, "max_tokens");
  if (max_tokens < 0 || max_tokens > (int64_t{1} << 30)) throw EngineError("bad_request", "max_tokens must be in [0, 2^30]");
  spec.max_tokens = static_cast<int>(max_tokens);
  // Range checks come before the narrowing casts: a double outside float's or int64's range is undefined
  // behaviour to cast, and the protocol's peer is not trusted to have bounded it.
  const double temperature = number_or(cmd, "temperature", 0);
  const double top_p = number_or(cmd, "top_p", 1);
  if (!(temperature >= 0 && temperature <= 1e4) || !(top_p > 0 && top_p <= 1)) {
    throw EngineError("bad_request", "temperature must be in [0, 1e4] and top_p in (0, 1]");
  }
  spec.sampling.temperature = static_cast<float>(temperature);
  spec.sampling.top_p = static_cast<float>(top_p);
  const Json* seed = cmd.find("seed");
  if (seed && seed->is_number()) {
    if (!seed->is_int()) throw EngineError("bad_request", "seed must be an integer");
    spec.sampling.seed = static_cast<uint64_t>(seed->as_int());
  }
  spec.stop_ids = token_list(cmd, "stop_ids", false);
  const Json* logits = cmd.find("logits");
  spec.want_logits = logits && logits->is_bool() && logits->as_bool();
  core_->add(spec);
  reply_ok(id);
}

void Server::handle_preempt(const Json& id) {
  Json fields = Json::object();
  fields.set("steps", preempt_at_token_boundary());
  reply_ok(id, std::move(fields));
}

}  // namespace tidepool
