// The engine without its socket: resident models, sequences and the step loop. Single-threaded by design;
// the server calls it from its step thread only, so commands apply between steps (token boundaries).
//
//   step(model) = schedule -> run -> postprocess
//
// Errors are thrown as EngineError with a protocol code. A failure inside a step fails only the sequences
// of that step (done with reason "error"), except device_lost, which step() throws: the device is unusable
// for every sequence and the server exits.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "../backends/backend.h"
#include "grammar/grammar_store.h"
#include "json.h"
#include "memory_manager.h"
#include "model.h"
#include "scheduler.h"
#include "sequence_sampling.h"

namespace tidepool {

struct EngineOptions {
  size_t memory_budget_bytes = 0;  // 0 = sized from the backend's memory (memory_plan.h)
  size_t kv_budget_bytes = 0;      // 0 = a quarter of the budget
  size_t scratch_bytes = 0;        // 0 = a sixteenth of the budget, at most 512 MiB
  int block_tokens = 16;
  size_t kv_page_bytes = 64 << 10;
  int max_batch_tokens = 4096;  // prefill admission stops here (one sequence is always admitted)
};

struct SequenceSpec {
  int64_t id = 0;
  std::string model;
  std::vector<int32_t> prompt;
  int max_tokens = 16;
  SamplingParams sampling;
  std::vector<int32_t> stop_ids;
  std::vector<int32_t> eos_ids;
  std::string grammar, vocab;  // registered names; both or neither
  // More sequences on the same prompt and parameters (n > 1), each with its own seed: they share the
  // first sequence's prefill and fork its KV pages (engine_forks.cpp).
  std::vector<int64_t> fork_ids;
  std::vector<uint64_t> fork_seeds;
  bool want_logits = false;
  bool all_logits = false;
  Pooling pooling = Pooling::None;  // an embedding: max_tokens 0, no sampling
};

struct TokenEvent {
  int64_t seq = 0;
  int32_t token = 0;
  std::vector<float> logits;  // last position, or (prompt positions, vocab) on an all_logits prefill
  bool has_logprob = false;   // the sequence asked for logprobs
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top_logprobs;
};

struct DoneEvent {
  int64_t seq = 0;
  std::string reason;  // stop | length | cancelled | error
  int prompt_tokens = 0;
  int completion_tokens = 0;
  std::string message;
  std::string code;              // with reason "error": the engine error code (docs/engine-protocol.md)
  std::vector<float> embedding;  // (hidden_size) an embedding sequence's result, L2-normalised
};

struct StepResult {
  bool ran = false;  // false when the model had nothing to run
  double ms = 0;
  std::vector<TokenEvent> tokens;
  std::vector<DoneEvent> done;
};

struct KvMove {
  size_t bytes = 0;
  double ms = 0;
};

class EngineCore {
 public:
  EngineCore(std::unique_ptr<Backend> backend, const EngineOptions& options);
  ~EngineCore();  // frees slots and releases host mappings before the backend goes

  Backend& backend() { return *backend_; }
  const MemoryPlan& memory_plan() const { return memory_.plan(); }
  const MemorySource& memory_source() const { return memory_source_; }
  int block_tokens() const { return options_.block_tokens; }

  bool is_resident(const std::string& key) const { return models_.count(key) > 0; }
  size_t model_bytes(const std::string& key) const;

  // Host mappings. A model the engine knows is mapped: its files in shared memory, read in place, and
  // prepared by the backend for copies (pinned on CUDA). A mapped model may also be resident in a slot.
  // Evict keeps the mapping, so the next load of that model only copies bytes; drop_mapping (the
  // runtime's `unmap`, once its host pool has let the files go) ends it.
  bool has_mapping(const std::string& key, const std::string& dir) const;  // same dir, files unchanged
  const Model* mapping(const std::string& key) const;                      // null when not mapped
  // Takes a freshly mapped model, replacing a stale mapping of the key (which must not be resident).
  void adopt_mapping(const std::string& key, std::unique_ptr<Model> model);
  // False when there is none; busy while the model is resident or installing.
  bool drop_mapping(const std::string& key);
  // Drops mappings of models that are not resident and whose files were deleted or replaced on disk.
  std::vector<std::string> drop_stale_mappings();
  size_t mapped_bytes() const;

  // Installing a mapped model into a slot, in steps so the copy can run off the step thread:
  // begin_install reserves the weights (out_of_memory when the arena has no room) and returns what
  // load_slot needs; the caller runs backend().load_slot(*plan.model, plan.layout) on any thread, then
  // finish_install with the slot, or abort_install if the copy failed.
  struct InstallPlan {
    const Model* model = nullptr;
    KvLayout layout;
  };
  InstallPlan begin_install(const std::string& key);
  size_t finish_install(const std::string& key, int slot);
  void abort_install(const std::string& key);
  // Map, reserve and copy on this thread (tests and the one-shot forward command).
  size_t install_model(const std::string& key, std::unique_ptr<Model> model);
  // Frees a model's slot (its mapping stays); busy while it has running sequences unless force (which
  // cancels them).
  size_t evict_model(const std::string& key, bool force, std::vector<DoneEvent>& done);

  void add(const SequenceSpec& spec);
  bool cancel(int64_t seq, DoneEvent* done);  // false for unknown ids
  void cancel_all(std::vector<DoneEvent>& done);
  void fail_all(const std::string& code, const std::string& message,
                std::vector<DoneEvent>& done);  // every sequence ends with "error"
  KvMove park(int64_t seq);
  KvMove restore(int64_t seq);

  StepResult step(const std::string& model);
  bool has_sequences(const std::string& model) const;

  Json stats_json(const std::vector<std::string>& loading) const;
  const Sequence* find(int64_t seq) const;
  const Scheduler& scheduler() const { return scheduler_; }
  GrammarStore& grammars() { return grammars_; }
  int64_t prefill_tokens_saved() const { return forked_prefill_tokens_saved_; }  // by forks, since start
  // Steps whose sampling the backend prepared on its device, and rows the host then had to fetch whole
  // (engine_prepared.cpp), since start.
  struct PreparedSamplingStats {
    int64_t steps = 0;
    int64_t rows = 0;
    int64_t rows_fetched = 0;
  };
  PreparedSamplingStats prepared_sampling() const { return prepared_stats_; }

 private:
  struct ResidentModel {
    const Model* model = nullptr;  // owned by mapped_
    int slot = -1;
    KvLayout layout;
    size_t bytes = 0;
  };

  Sequence& get(int64_t seq);
  void check_spec(const SequenceSpec& spec, const ModelConfig& config) const;
  GrammarCursor grammar_cursor(const SequenceSpec& spec);
  void validate_waiting(const std::string& model, const ResidentModel& rm, StepResult& out);
  void finish(Sequence* seq, const std::string& reason, const std::string& message, std::vector<DoneEvent>& done);
  // finish() with reason "error" and the code the done event carries, so no reader parses it from text.
  void fail(Sequence* seq, const std::string& code, const std::string& message, std::vector<DoneEvent>& done);
  std::vector<BatchEntry> batch_entries(const ScheduledBatch& batch, size_t& logit_rows) const;
  void run_batch(const ResidentModel& rm, const ScheduledBatch& batch, StepResult& out);
  // Embedding sequences of a batch (engine_embed.cpp): prefill, pool, finish.
  void run_embeddings(const ResidentModel& rm, const std::vector<Sequence*>& seqs, StepResult& out);
  void postprocess(const ResidentModel& rm, const ScheduledBatch& batch, std::vector<float>& logits, StepResult& out);
  bool take_token(Sequence* seq, float* row, int vocab, TokenEvent ev, StepResult& out);
  bool emit_sampled(Sequence* seq, TokenEvent ev, StepResult& out);  // sampled_ as seq's next token
  // Sampling prepared on the device (engine_prepared.cpp)
  bool prepared_applies(const ScheduledBatch& batch) const;
  void prepare_sampling_rows(const ScheduledBatch& batch, int32_t vocab);
  void run_batch_prepared(const ResidentModel& rm, const ScheduledBatch& batch, StepResult& out);
  void forward_failed(const ScheduledBatch& batch, StepResult& out);  // in a catch block; rethrows device_lost
  void finish_if_done(Sequence* seq, const ResidentModel& rm, StepResult& out);
  // n > 1 (engine_forks.cpp)
  void add_forks(const SequenceSpec& spec, Sequence& parent);
  void start_forks(Sequence* parent, const ResidentModel& rm, StepResult& out);
  bool share_kv(Sequence& parent, Sequence& child, const ResidentModel& rm);
  void release_forks(Sequence& parent);

  EngineOptions options_;
  std::unique_ptr<Backend> backend_;
  const MemorySource memory_source_;  // as the backend reported it before the plan was made
  MemoryManager memory_;
  Scheduler scheduler_;
  std::map<std::string, std::unique_ptr<Model>> mapped_;  // every known model, resident or not
  std::map<std::string, KvLayout> installing_;            // weights reserved, copy under way
  std::map<std::string, ResidentModel> models_;           // in a slot
  std::map<int64_t, std::unique_ptr<Sequence>> seqs_;
  GrammarStore grammars_;
  SequenceSampler sampler_{grammars_};
  SampledToken sampled_;          // reused per token
  std::vector<float> fork_row_;   // (vocab) a forking parent's raw row, for its children's first tokens
  std::vector<uint8_t> kv_copy_;  // staging for copying a forked block's pages
  int64_t forked_prefill_tokens_saved_ = 0;
  std::vector<SequenceRequest> prepared_requests_;  // (batch) the device path's per-sequence inputs
  std::vector<RowSampling> prepared_rows_;          // (batch) what the backend gets of them
  std::vector<RowCandidates> prepared_answers_;     // (batch)
  PreparedSamplingStats prepared_stats_;
};

}  // namespace tidepool
