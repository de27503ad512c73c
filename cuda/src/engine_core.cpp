#include "engine_core.h"

#include <algorithm>
#include <chrono>

#include "errors.h"

namespace tidepool {

namespace {

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

MemoryRequest memory_request(const EngineOptions& o) {
  MemoryRequest r;
  r.budget_bytes = o.memory_budget_bytes;
  r.kv_budget_bytes = o.kv_budget_bytes;
  r.scratch_bytes = o.scratch_bytes;
  r.kv_page_bytes = o.kv_page_bytes;
  return r;
}

}  // namespace

EngineCore::EngineCore(std::unique_ptr<Backend> backend, const EngineOptions& options)
    : options_(options),
      backend_(std::move(backend)),
      memory_source_(backend_->memory_source()),
      memory_(plan_memory(memory_request(options), memory_source_)),
      scheduler_(static_cast<int>(memory_.plan().kv_pages), options.block_tokens, options.max_batch_tokens) {
  backend_->init_memory(memory_.plan());
}

size_t EngineCore::model_bytes(const std::string& key) const {
  auto it = models_.find(key);
  return it == models_.end() ? 0 : it->second.bytes;
}

EngineCore::~EngineCore() {
  for (auto& [key, rm] : models_) backend_->free_slot(rm.slot);
  models_.clear();
  for (auto& [key, model] : mapped_) backend_->release_host(*model);
}

bool EngineCore::has_mapping(const std::string& key, const std::string& dir) const {
  auto it = mapped_.find(key);
  return it != mapped_.end() && it->second->dir == dir && it->second->unchanged_on_disk();
}

const Model* EngineCore::mapping(const std::string& key) const {
  auto it = mapped_.find(key);
  return it == mapped_.end() ? nullptr : it->second.get();
}

void EngineCore::adopt_mapping(const std::string& key, std::unique_ptr<Model> model) {
  if (models_.count(key) || installing_.count(key))
    throw EngineError("busy", "model " + key + " is resident; evict it first");
  auto it = mapped_.find(key);
  if (it != mapped_.end()) backend_->release_host(*it->second);
  mapped_[key] = std::move(model);
}

bool EngineCore::drop_mapping(const std::string& key) {
  auto it = mapped_.find(key);
  if (it == mapped_.end()) return false;
  if (models_.count(key) || installing_.count(key))
    throw EngineError("busy", "model " + key + " is resident; evict it first");
  backend_->release_host(*it->second);
  mapped_.erase(it);
  return true;
}

std::vector<std::string> EngineCore::drop_stale_mappings() {
  std::vector<std::string> stale;
  for (const auto& [key, model] : mapped_)
    if (!models_.count(key) && !installing_.count(key) && !model->unchanged_on_disk()) stale.push_back(key);
  for (const std::string& key : stale) drop_mapping(key);
  return stale;
}

size_t EngineCore::mapped_bytes() const {
  size_t bytes = 0;
  for (const auto& [key, model] : mapped_) bytes += model->weight_bytes;
  return bytes;
}

EngineCore::InstallPlan EngineCore::begin_install(const std::string& key) {
  auto it = mapped_.find(key);
  if (it == mapped_.end()) throw EngineError("internal", "model " + key + " is not mapped");
  if (models_.count(key) || installing_.count(key))
    throw EngineError("internal", "model " + key + " is already resident or installing");
  const Model& model = *it->second;
  InstallPlan plan;
  plan.model = &model;
  plan.layout =
      make_kv_layout(model.config, options_.block_tokens, memory_.plan().kv_page_bytes, backend_->kv_element_bytes());
  const size_t bytes = backend_->slot_bytes(model, model.weight_bytes);
  if (!memory_.reserve_weights(key, bytes))
    throw EngineError("out_of_memory",
                      "weights arena has " +
                          std::to_string(memory_.plan().weights_arena_bytes() - memory_.weights_used()) +
                          " bytes free, model needs " + std::to_string(bytes));
  installing_[key] = plan.layout;
  return plan;
}

size_t EngineCore::finish_install(const std::string& key, int slot) {
  auto it = installing_.find(key);
  if (it == installing_.end()) throw EngineError("internal", "model " + key + " is not installing");
  ResidentModel rm;
  rm.model = mapped_.at(key).get();
  rm.slot = slot;
  rm.layout = it->second;
  rm.bytes = rm.model->weight_bytes;
  installing_.erase(it);
  models_[key] = rm;
  return rm.bytes;
}

void EngineCore::abort_install(const std::string& key) {
  if (installing_.erase(key)) memory_.release_weights(key);
}

size_t EngineCore::install_model(const std::string& key, std::unique_ptr<Model> model) {
  if (models_.count(key)) return models_[key].bytes;
  backend_->prepare_host(*model);
  adopt_mapping(key, std::move(model));
  const InstallPlan plan = begin_install(key);
  int slot = -1;
  try {
    slot = backend_->load_slot(*plan.model, plan.layout);
  } catch (...) {
    abort_install(key);
    throw;
  }
  return finish_install(key, slot);
}

size_t EngineCore::evict_model(const std::string& key, bool force, std::vector<DoneEvent>& done) {
  auto it = models_.find(key);
  if (it == models_.end()) throw EngineError("not_found", "model " + key + " is not resident");
  std::vector<Sequence*> running;
  for (auto& [id, seq] : seqs_)
    if (seq->model == key && seq->status == SeqStatus::Running) running.push_back(seq.get());
  if (!running.empty() && !force)
    throw EngineError("busy", "model " + key + " has " + std::to_string(running.size()) + " running sequences");
  for (Sequence* seq : running) finish(seq, "cancelled", "model evicted", done);
  backend_->free_slot(it->second.slot);
  models_.erase(it);
  return memory_.release_weights(key);
}

Sequence& EngineCore::get(int64_t id) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) throw EngineError("not_found", "no sequence " + std::to_string(id));
  return *it->second;
}

const Sequence* EngineCore::find(int64_t id) const {
  auto it = seqs_.find(id);
  return it == seqs_.end() ? nullptr : it->second.get();
}

void EngineCore::finish(Sequence* seq, const std::string& reason, const std::string& message,
                        std::vector<DoneEvent>& done) {
  release_forks(*seq);
  scheduler_.remove(seq);
  done.push_back({seq->id, reason, seq->prompt_len, seq->completion_tokens(), message, {}, {}});
  seqs_.erase(seq->id);
}

void EngineCore::fail(Sequence* seq, const std::string& code, const std::string& message,
                      std::vector<DoneEvent>& done) {
  finish(seq, "error", message, done);
  done.back().code = code;
}

bool EngineCore::cancel(int64_t id, DoneEvent* out) {
  auto it = seqs_.find(id);
  if (it == seqs_.end()) return false;
  std::vector<DoneEvent> done;
  finish(it->second.get(), "cancelled", "", done);
  if (out) *out = done.front();
  return true;
}

void EngineCore::cancel_all(std::vector<DoneEvent>& done) {
  while (!seqs_.empty()) finish(seqs_.begin()->second.get(), "cancelled", "", done);
}

void EngineCore::fail_all(const std::string& code, const std::string& message, std::vector<DoneEvent>& done) {
  while (!seqs_.empty()) fail(seqs_.begin()->second.get(), code, message, done);
}

KvMove EngineCore::park(int64_t id) {
  auto start = std::chrono::steady_clock::now();
  Sequence& seq = get(id);
  if (seq.status == SeqStatus::Parked)
    throw EngineError("bad_request", "sequence " + std::to_string(id) + " is already parked");
  if (seq.fork_parent >= 0)
    throw EngineError("bad_request", "sequence " + std::to_string(id) + " waits for the prefill of sequence " +
                                         std::to_string(seq.fork_parent) + "; park that one");
  const size_t bytes = seq.pages.size() * memory_.plan().kv_page_bytes;
  seq.parked_kv.resize(bytes);
  backend_->kv_to_host(seq.pages, seq.parked_kv.data());
  scheduler_.park(&seq);
  return {bytes, ms_since(start)};
}

KvMove EngineCore::restore(int64_t id) {
  auto start = std::chrono::steady_clock::now();
  Sequence& seq = get(id);
  if (seq.status != SeqStatus::Parked)
    throw EngineError("bad_request", "sequence " + std::to_string(id) + " is not parked");
  if (!scheduler_.restore(&seq, seq.parked_pages))
    throw EngineError("out_of_memory", "KV pool has no room to restore sequence " + std::to_string(id));
  backend_->kv_from_host(seq.pages, seq.parked_kv.data());
  const size_t bytes = seq.parked_kv.size();
  seq.parked_kv.clear();
  seq.parked_kv.shrink_to_fit();
  return {bytes, ms_since(start)};
}

bool EngineCore::has_sequences(const std::string& model) const {
  QueueCounts c = scheduler_.counts(model);
  return c.running + c.waiting > 0;
}

// Sequences added before their model was resident are checked once it is.
void EngineCore::validate_waiting(const std::string& model, const ResidentModel& rm, StepResult& out) {
  const int total_pages = scheduler_.blocks().total();
  for (Sequence* seq : scheduler_.waiting(model)) {
    SequenceSpec spec;
    spec.prompt.assign(seq->tokens.begin(), seq->tokens.begin() + seq->prompt_len);
    spec.max_tokens = seq->max_tokens;
    spec.stop_ids = seq->stop_ids;
    spec.eos_ids = seq->eos_ids;
    spec.sampling = seq->sampling;
    try {
      check_spec(spec, rm.model->config);
      if (scheduler_.blocks().pages_for(seq->len(), rm.layout.pages_per_block) > total_pages)
        throw EngineError("out_of_memory", "sequence needs more KV than the whole pool");
    } catch (const EngineError& e) {
      fail(seq, e.code(), e.code() + ": " + e.what(), out.done);
    }
  }
}

StepResult EngineCore::step(const std::string& model) {
  auto start = std::chrono::steady_clock::now();
  StepResult out;
  auto it = models_.find(model);
  if (it == models_.end()) throw EngineError("not_found", "model " + model + " is not resident");
  const ResidentModel& rm = it->second;
  validate_waiting(model, rm, out);
  ScheduledBatch batch = scheduler_.schedule(model, rm.layout.pages_per_block);  // schedule
  if (!batch.empty()) {
    run_batch(rm, batch, out);  // run -> postprocess
    out.ran = true;
  }
  out.ms = ms_since(start);
  return out;
}

std::vector<BatchEntry> EngineCore::batch_entries(const ScheduledBatch& batch, size_t& logit_rows) const {
  std::vector<BatchEntry> entries;
  logit_rows = 0;
  for (Sequence* seq : batch.seqs) {
    BatchEntry e;
    e.start_pos = seq->num_cached;
    e.tokens = seq->tokens.data() + seq->num_cached;
    e.n_tokens = seq->len() - seq->num_cached;
    e.pages = seq->pages.data();
    e.n_pages = static_cast<int>(seq->pages.size());
    e.all_logits = seq->all_logits && seq->num_cached == 0;
    logit_rows += e.all_logits ? e.n_tokens : 1;
    entries.push_back(e);
  }
  return entries;
}

// Called inside a catch block: ends the batch's sequences with the forward's error, or rethrows a device
// fault, which is not this batch's failure alone: the server ends every sequence and exits.
void EngineCore::forward_failed(const ScheduledBatch& batch, StepResult& out) {
  try {
    throw;
  } catch (const EngineError& e) {
    if (e.code() == kDeviceLost) throw;
    for (Sequence* seq : batch.seqs) fail(seq, e.code(), "forward failed: " + e.code() + ": " + e.what(), out.done);
  } catch (const std::exception& e) {
    for (Sequence* seq : batch.seqs) fail(seq, "internal", std::string("forward failed: ") + e.what(), out.done);
  }
}

void EngineCore::run_batch(const ResidentModel& rm, const ScheduledBatch& scheduled, StepResult& out) {
  ScheduledBatch batch;
  std::vector<Sequence*> embeddings;
  for (Sequence* seq : scheduled.seqs) (seq->pooling == Pooling::None ? batch.seqs : embeddings).push_back(seq);
  run_embeddings(rm, embeddings, out);
  if (batch.empty()) return;
  if (prepared_applies(batch)) return run_batch_prepared(rm, batch, out);
  size_t rows = 0;
  const std::vector<BatchEntry> entries = batch_entries(batch, rows);
  std::vector<float> logits(rows * rm.model->config.vocab_size);
  try {
    backend_->forward(rm.slot, entries, logits.data());
  } catch (...) {
    forward_failed(batch, out);
    return;
  }
  postprocess(rm, batch, logits, out);
}

Json EngineCore::stats_json(const std::vector<std::string>& loading) const {
  Json models = Json::array();
  auto entry = [&](const std::string& key, size_t bytes, const char* state) {
    QueueCounts c = scheduler_.counts(key);
    Json m = Json::object();
    m.set("model", key);
    m.set("bytes", static_cast<int64_t>(bytes));
    m.set("state", state);
    m.set("running", c.running);
    m.set("waiting", c.waiting);
    m.set("parked", c.parked);
    models.push(std::move(m));
  };
  for (const auto& [key, rm] : models_) entry(key, rm.bytes, "resident");
  for (const std::string& key : loading) entry(key, 0, "loading");
  for (const auto& [key, model] : mapped_)
    if (!models_.count(key) && std::find(loading.begin(), loading.end(), key) == loading.end())
      entry(key, model->weight_bytes, "mapped");
  const MemoryPlan& p = memory_.plan();
  Json mem = Json::object();
  mem.set("budget_bytes", static_cast<int64_t>(p.budget_bytes));
  mem.set("weights_bytes", static_cast<int64_t>(memory_.weights_used()));
  mem.set("kv_bytes", static_cast<int64_t>(p.kv_bytes));
  mem.set("kv_blocks_total", scheduler_.blocks().total());
  mem.set("kv_blocks_used", scheduler_.blocks().used_count());
  mem.set("scratch_bytes", static_cast<int64_t>(p.scratch_bytes));
  mem.set("mapped_bytes", static_cast<int64_t>(mapped_bytes()));
  const BackendMemory b = backend_->memory();
  mem.set("device_reserved_bytes", static_cast<int64_t>(b.device_reserved_bytes));
  mem.set("device_weights_bytes", static_cast<int64_t>(b.device_weights_bytes));
  mem.set("device_weights_used_bytes", static_cast<int64_t>(b.device_weights_used_bytes));
  mem.set("device_weights_largest_free_bytes", static_cast<int64_t>(b.device_weights_largest_free_bytes));
  mem.set("host_pinned_bytes", static_cast<int64_t>(b.host_pinned_bytes));
  mem.set("host_staged_bytes", static_cast<int64_t>(b.host_staged_bytes));
  Json out = Json::object();
  out.set("models", std::move(models));
  out.set("memory", std::move(mem));
  out.set("grammar", grammars_.stats());
  out.set("prefill_tokens_saved", forked_prefill_tokens_saved_);
  return out;
}

}  // namespace tidepool
