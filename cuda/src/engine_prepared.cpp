// The step's run and postprocess when the backend prepares sampling on its device (backends/
// device_sampling.h): each sequence's sampling inputs are taken before the forward and go with it; what
// comes back per sequence is stage 2's answer (a few KB), not its row of logits. The host draws from the
// answer and fetches the sequence's rows only when the answer does not settle the draw or is missing.
//
// Steps the device path does not take run as before (run_batch, postprocess): a backend without it (the
// CPU backend), more logit rows than the backend keeps, and sequences that want logits, prefill every
// position (all_logits) or start forks (their children sample the parent's raw row).
#include "engine_core.h"
#include "errors.h"

namespace tidepool {

namespace {

// One sequence's rows, fetched from the backend on first need.
class BackendRows : public RowSource {
 public:
  BackendRows(Backend& backend, int row, int32_t vocab, const TokenMask* allowed, bool answered,
              std::vector<float>& raw, std::vector<float>& processed, int64_t& fetched)
      : backend_(backend),
        row_(row),
        vocab_(vocab),
        allowed_(allowed),
        answered_(answered),
        raw_(raw),
        processed_(processed),
        fetched_(fetched) {}

  RowView processed() override {
    if (!answered_) throw EngineError("internal", "the device kept no processed row for an unanswered request");
    fetch();
    return RowView{processed_.data(), vocab_, allowed_};
  }
  const float* raw() override {
    fetch();
    return raw_.data();
  }

 private:
  void fetch() {
    if (have_) return;
    raw_.resize(vocab_);
    processed_.resize(answered_ ? vocab_ : 0);
    backend_.fetch_row(row_, raw_.data(), answered_ ? processed_.data() : nullptr);
    have_ = true;
    fetched_++;
  }

  Backend& backend_;
  const int row_;
  const int32_t vocab_;
  const TokenMask* allowed_;
  const bool answered_;
  std::vector<float>& raw_;
  std::vector<float>& processed_;
  int64_t& fetched_;
  bool have_ = false;
};

}  // namespace

bool EngineCore::prepared_applies(const ScheduledBatch& batch) const {
  if (static_cast<int>(batch.seqs.size()) > backend_->prepared_rows()) return false;
  for (const Sequence* seq : batch.seqs) {
    const bool prefill = seq->num_cached == 0;
    if (seq->want_logits || (seq->all_logits && prefill) || (prefill && !seq->pending_forks.empty())) return false;
  }
  return true;
}

// Each sequence's sampling inputs for this step, before its forward: prepared_requests_ and what the
// backend gets of them, prepared_rows_ (pointing into the former and the sequences).
void EngineCore::prepare_sampling_rows(const ScheduledBatch& batch, int32_t vocab) {
  const size_t n = batch.seqs.size();
  prepared_requests_.resize(n);
  prepared_rows_.resize(n);
  for (size_t i = 0; i < n; i++) {
    Sequence& seq = *batch.seqs[i];
    SequenceRequest& r = prepared_requests_[i];
    sampler_.prepare(seq, vocab, r);
    const SampleRequest request = r.request(seq);
    RowSampling& row = prepared_rows_[i];
    row.ask = first_ask(seq.sampling, r.mask ? r.mask->mask.count : vocab);
    row.ask.raw_top = seq.sampling.logprobs ? seq.sampling.top_logprobs : -1;
    row.params = request.params;
    row.counts = seq.sampling.penalizes() && seq.counts.ready() ? &seq.counts : nullptr;
    row.masked = request.masked;
    row.allowed = request.allowed;
  }
}

void EngineCore::run_batch_prepared(const ResidentModel& rm, const ScheduledBatch& batch, StepResult& out) {
  const int32_t vocab = rm.model->config.vocab_size;
  const size_t n = batch.seqs.size();
  size_t rows = 0;
  const std::vector<BatchEntry> entries = batch_entries(batch, rows);
  prepare_sampling_rows(batch, vocab);
  try {
    backend_->forward_prepared(rm.slot, entries, prepared_rows_, prepared_answers_);
  } catch (...) {
    forward_failed(batch, out);
    return;
  }
  prepared_stats_.steps++;
  std::vector<float> raw, processed;
  for (size_t i = 0; i < n; i++) {
    Sequence* seq = batch.seqs[i];
    seq->num_cached = seq->len();
    const RowCandidates& answer = prepared_answers_[i];
    BackendRows source(*backend_, static_cast<int>(i), vocab, prepared_rows_[i].allowed, answer.answered, raw,
                       processed, prepared_stats_.rows_fetched);
    sampler_.sample_prepared(*seq, prepared_requests_[i], answer.answered ? &answer.candidates : nullptr, source, vocab,
                             sampled_);
    prepared_stats_.rows++;
    TokenEvent ev;
    ev.seq = seq->id;
    if (!emit_sampled(seq, std::move(ev), out)) continue;
    finish_if_done(seq, rm, out);
  }
}

}  // namespace tidepool
