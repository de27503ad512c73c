// Per-model queues over one shared block manager. schedule() picks a step's batch for one model: running
// sequences decode one token each (preempting the newest when the pool runs out), then waiting sequences
// are admitted first-come-first-served while their KV fits. The scheduler owns the block manager; the
// backend never allocates.
#pragma once

#include <deque>
#include <map>
#include <string>
#include <vector>

#include "block_manager.h"
#include "sequence.h"

namespace tidepool {

struct ScheduledBatch {
  std::vector<Sequence*> seqs;  // batch order: decodes, then prefills
  int num_tokens = 0;
  bool empty() const { return seqs.empty(); }
};

struct QueueCounts {
  int running = 0;
  int waiting = 0;
  int parked = 0;
};

class Scheduler {
 public:
  Scheduler(int num_pages, int block_tokens, int max_batch_tokens);

  BlockManager& blocks() { return blocks_; }
  const BlockManager& blocks() const { return blocks_; }

  void add(Sequence* seq);            // joins its model's waiting queue
  void remove(Sequence* seq);         // leaves every queue; its pages are freed
  void adopt_running(Sequence* seq);  // a sequence that already holds its KV (a fork) joins the batch
  ScheduledBatch schedule(const std::string& model, int pages_per_block);
  // Token-level KV preemption: frees the sequence's pages, marks it waiting and puts it at the front of its
  // model's queue; it is recomputed from its tokens when readmitted, so its output does not change.
  void preempt(Sequence* seq);

  // Park: the caller has copied the pages to the host; the sequence leaves the batch (or the waiting queue,
  // when it has no KV yet) and its pages are freed.
  void park(Sequence* seq);
  // Restore: allocates `n_pages` pages for the sequence (false when the pool lacks them) and rejoins the batch;
  // a sequence parked without KV rejoins the front of the waiting queue.
  bool restore(Sequence* seq, int n_pages);

  QueueCounts counts(const std::string& model) const;
  int64_t preemptions() const { return preemptions_; }
  std::vector<Sequence*> waiting(const std::string& model) const;

 private:
  struct Queues {
    std::deque<Sequence*> waiting;
    std::vector<Sequence*> running;
    std::vector<Sequence*> parked;
  };
  static void erase_from(std::vector<Sequence*>& v, Sequence* seq);
  bool make_room(Queues& q, Sequence* seq, int pages_per_block);

  BlockManager blocks_;
  int max_batch_tokens_;
  int64_t preemptions_ = 0;
  std::map<std::string, Queues> queues_;
};

}  // namespace tidepool
