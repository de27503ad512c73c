// One handler per protocol command (docs/engine-protocol.md). Runs on the step thread, between steps.
#include <chrono>
#include <cstdlib>
#include <iostream>

#include "add_command.h"
#include "errors.h"
#include "server.h"

namespace tidepool {

namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

const Json& field(const Json& cmd, const char* key) {
  const Json* v = cmd.find(key);
  if (!v) throw EngineError("bad_request", std::string("missing field ") + key);
  return *v;
}

std::string string_field(const Json& cmd, const char* key) {
  const Json& v = field(cmd, key);
  if (!v.is_string() || v.as_string().empty())
    throw EngineError("bad_request", std::string(key) + " must be a non-empty string");
  return v.as_string();
}

int64_t int_field(const Json& cmd, const char* key) {
  const Json& v = field(cmd, key);
  if (!v.is_int()) throw EngineError("bad_request", std::string(key) + " must be an integer");
  return v.as_int();
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
    sweep_stale_mappings();
    if (op == "load") return handle_load(id, cmd, true);
    if (op == "map") return handle_load(id, cmd, false);
    if (op == "evict") return handle_evict(id, cmd);
    if (op == "unmap") return handle_unmap(id, cmd);
    if (op == "add") return handle_add(id, cmd);
    if (op == "vocab") return reply_ok(id, core_->grammars().register_vocab(cmd));
    if (op == "grammar") return reply_ok(id, core_->grammars().register_grammar(cmd));
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
    if (e.code() == kDeviceLost) fail_device(e.what());
  } catch (const std::exception& e) {
    reply_error(id, "internal", e.what());
  }
}

static Json load_fields(size_t bytes, double ms, bool cached) {
  Json fields = Json::object();
  fields.set("bytes", static_cast<int64_t>(bytes));
  fields.set("ms", ms);
  fields.set("cached", cached);
  return fields;
}

// `load` (to_slot) makes a model resident; `map` only maps it and prepares it for copies, so a later
// load pays for the copy alone. Both join a load of the same model already under way.
void Server::handle_load(const Json& id, const Json& cmd, bool to_slot) {
  const std::string key = string_field(cmd, "model");
  const std::string dir = string_field(cmd, "dir");
  const bool done = to_slot ? core_->is_resident(key) : core_->is_resident(key) || core_->has_mapping(key, dir);
  if (done)
    return reply_ok(id, load_fields(to_slot ? core_->model_bytes(key) : core_->mapping(key)->weight_bytes, 0, true));
  auto it = loading_.find(key);
  if (it != loading_.end()) {
    if (!to_slot && it->second.copying) return reply_ok(id, load_fields(core_->mapping(key)->weight_bytes, 0, true));
    (to_slot ? it->second.load_waiters : it->second.map_waiters).push_back({connection_, id});
    return;
  }
  PendingLoad pending;
  pending.start = std::chrono::steady_clock::now();
  (to_slot ? pending.load_waiters : pending.map_waiters).push_back({connection_, id});
  loading_.emplace(key, std::move(pending));
  if (core_->has_mapping(key, dir)) return start_copy(key);
  start_mapping(key, dir);
}

void Server::start_mapping(const std::string& key, const std::string& dir) {
  core_->drop_mapping(key);  // a stale one: another directory, or files the host pool replaced
  LoadJob job;
  job.kind = LoadJob::Kind::Map;
  job.key = key;
  job.dir = dir;
  load_jobs_.push(std::move(job));
}

// Reserves the weights here, on the step thread, and leaves the copy to the loader.
void Server::start_copy(const std::string& key) {
  PendingLoad& pending = loading_.at(key);
  try {
    LoadJob job;
    job.kind = LoadJob::Kind::Copy;
    job.key = key;
    job.plan = core_->begin_install(key);
    pending.copying = true;
    load_jobs_.push(std::move(job));
  } catch (const EngineError& e) {
    answer(pending.load_waiters, e.code(), e.what(), Json());
    loading_.erase(key);
  }
}

void Server::handle_mapped(Inbound& item) {
  auto it = loading_.find(item.key);
  if (it == loading_.end()) return;
  PendingLoad& pending = it->second;
  const double ms = ms_since(pending.start);
  if (item.error_code.empty()) {
    try {
      core_->adopt_mapping(item.key, std::move(item.model));
    } catch (const EngineError& e) {
      item.error_code = e.code();
      item.error_message = e.what();
    }
  }
  if (!item.error_code.empty()) {
    answer(pending.map_waiters, item.error_code, item.error_message, Json());
    answer(pending.load_waiters, item.error_code, item.error_message, Json());
    loading_.erase(it);
    return;
  }
  answer(pending.map_waiters, "", "", load_fields(core_->mapping(item.key)->weight_bytes, ms, false));
  if (pending.load_waiters.empty()) {
    loading_.erase(it);
    return;
  }
  start_copy(item.key);
}

void Server::handle_copied(Inbound& item) {
  auto it = loading_.find(item.key);
  if (it == loading_.end()) return;
  PendingLoad& pending = it->second;
  if (!item.error_code.empty()) {
    core_->abort_install(item.key);
    answer(pending.load_waiters, item.error_code, item.error_message, Json());
  } else {
    const size_t bytes = core_->finish_install(item.key, item.slot);
    answer(pending.load_waiters, "", "", load_fields(bytes, ms_since(pending.start), false));
  }
  loading_.erase(it);
}

// Replies to every waiter still on this connection: an error when `code` is set, else ok with `fields`.
void Server::answer(std::vector<Waiter>& waiters, const std::string& code, const std::string& message, Json fields) {
  for (const Waiter& w : waiters) {
    if (w.connection != connection_) continue;  // asked by a client that has gone
    if (!code.empty()) reply_error(w.id, code, message);
    else reply_ok(w.id, fields);
  }
  waiters.clear();
}

void Server::handle_evict(const Json& id, const Json& cmd) {
  const std::string key = string_field(cmd, "model");
  const Json* force = cmd.find("force");
  if (loading_.count(key)) throw EngineError("busy", "model " + key + " is still loading");
  std::vector<DoneEvent> done;
  const size_t bytes = core_->evict_model(key, force && force->is_bool() && force->as_bool(), done);
  for (const DoneEvent& d : done) emit_done(d);
  // The mapping stays for a cheap reload, unless the host pool already let its files go.
  const Model* mapped = core_->mapping(key);
  if (mapped && !mapped->unchanged_on_disk()) core_->drop_mapping(key);
  Json fields = Json::object();
  fields.set("bytes", static_cast<int64_t>(bytes));
  reply_ok(id, std::move(fields));
}

// The runtime's host pool let a model's files go: drop the mapping (and its pin). Idempotent.
void Server::handle_unmap(const Json& id, const Json& cmd) {
  const std::string key = string_field(cmd, "model");
  if (loading_.count(key)) throw EngineError("busy", "model " + key + " is still loading");
  Json fields = Json::object();
  fields.set("dropped", core_->drop_mapping(key));
  reply_ok(id, std::move(fields));
}

// A safety net for mappings nobody unmapped: at most once a second, drop those whose files are gone, so
// deleted shared-memory files do not stay allocated behind a mapping.
void Server::sweep_stale_mappings() {
  const auto now = std::chrono::steady_clock::now();
  if (now - last_sweep_ < std::chrono::seconds(1)) return;
  last_sweep_ = now;
  for (const std::string& key : core_->drop_stale_mappings())
    std::cerr << "tidepool-engine: dropped the mapping of " << key << ": its files are gone\n";
}

void Server::handle_add(const Json& id, const Json& cmd) {
  core_->add(parse_add_command(cmd));
  reply_ok(id);
}

void Server::handle_preempt(const Json& id) {
  Json fields = Json::object();
  fields.set("steps", preempt_at_token_boundary());
  reply_ok(id, std::move(fields));
}

}  // namespace tidepool
