#include "scheduler.h"

#include <algorithm>

namespace tidepool {

Scheduler::Scheduler(int num_pages, int block_tokens, int max_batch_tokens)
    : blocks_(num_pages, block_tokens), max_batch_tokens_(max_batch_tokens) {}

void Scheduler::erase_from(std::vector<Sequence*>& v, Sequence* seq) {
  v.erase(std::remove(v.begin(), v.end(), seq), v.end());
}

void Scheduler::add(Sequence* seq) {
  seq->status = SeqStatus::Waiting;
  queues_[seq->model].waiting.push_back(seq);
}

void Scheduler::adopt_running(Sequence* seq) {
  seq->status = SeqStatus::Running;
  queues_[seq->model].running.push_back(seq);
}

void Scheduler::remove(Sequence* seq) {
  Queues& q = queues_[seq->model];
  q.waiting.erase(std::remove(q.waiting.begin(), q.waiting.end(), seq), q.waiting.end());
  erase_from(q.running, seq);
  erase_from(q.parked, seq);
  blocks_.free(*seq);
  seq->parked_kv.clear();
  seq->status = SeqStatus::Finished;
}

void Scheduler::preempt(Sequence* seq) {
  Queues& q = queues_[seq->model];
  erase_from(q.running, seq);
  blocks_.free(*seq);
  seq->num_cached = 0;
  seq->status = SeqStatus::Waiting;
  preemptions_++;
  q.waiting.push_front(seq);
}

// Frees pages by preempting the newest running sequences until `seq` can grow; false if `seq` itself went.
bool Scheduler::make_room(Queues& q, Sequence* seq, int pages_per_block) {
  while (!blocks_.can_append(*seq, pages_per_block)) {
    Sequence* victim = q.running.back();
    preempt(victim);
    if (victim == seq) return false;
  }
  return true;
}

ScheduledBatch Scheduler::schedule(const std::string& model, int pages_per_block) {
  ScheduledBatch batch;
  Queues& q = queues_[model];
  for (size_t i = 0; i < q.running.size();) {
    Sequence* seq = q.running[i];
    if (!make_room(q, seq, pages_per_block)) continue;  // seq left `running`; the same index is the next one
    blocks_.append_slot(*seq, pages_per_block);
    batch.seqs.push_back(seq);
    batch.num_tokens += seq->len() - seq->num_cached;
    i++;
  }
  while (!q.waiting.empty()) {
    Sequence* seq = q.waiting.front();
    const int n = seq->len() - seq->num_cached;
    if (!batch.empty() && batch.num_tokens + n > max_batch_tokens_) break;
    if (!blocks_.can_allocate(*seq, pages_per_block)) break;
    blocks_.allocate(*seq, pages_per_block);
    q.waiting.pop_front();
    q.running.push_back(seq);
    seq->status = SeqStatus::Running;
    batch.seqs.push_back(seq);
    batch.num_tokens += n;
  }
  return batch;
}

void Scheduler::park(Sequence* seq) {
  Queues& q = queues_[seq->model];
  erase_from(q.running, seq);
  q.waiting.erase(std::remove(q.waiting.begin(), q.waiting.end(), seq), q.waiting.end());
  seq->parked_pages = static_cast<int>(seq->pages.size());
  blocks_.free(*seq);
  seq->status = SeqStatus::Parked;
  q.parked.push_back(seq);
}

bool Scheduler::restore(Sequence* seq, int n_pages) {
  if (n_pages > blocks_.free_count()) return false;
  for (int i = 0; i < n_pages; i++) seq->pages.push_back(blocks_.take_page());
  Queues& q = queues_[seq->model];
  erase_from(q.parked, seq);
  if (n_pages == 0) {  // parked before it had KV: back to the head of the admission queue
    seq->status = SeqStatus::Waiting;
    q.waiting.push_front(seq);
    return true;
  }
  seq->status = SeqStatus::Running;
  q.running.push_back(seq);
  return true;
}

QueueCounts Scheduler::counts(const std::string& model) const {
  auto it = queues_.find(model);
  if (it == queues_.end()) return {};
  return {static_cast<int>(it->second.running.size()), static_cast<int>(it->second.waiting.size()),
          static_cast<int>(it->second.parked.size())};
}

std::vector<Sequence*> Scheduler::waiting(const std::string& model) const {
  auto it = queues_.find(model);
  if (it == queues_.end()) return {};
  return {it->second.waiting.begin(), it->second.waiting.end()};
}

}  // namespace tidepool
