// The paged KV pool's bookkeeping: fixed-size pages with reference counts, shared by every resident model.
// A model's logical block (block_tokens tokens, all layers) spans `pages_per_block` pages (see KvLayout).
// Queries pair with commands: can_allocate/allocate for a sequence's first blocks, can_append/append_slot
// to grow it to cover its current length. The block manager never touches KV contents.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sequence.h"

namespace tidepool {

class BlockManager {
 public:
  BlockManager(int num_pages, int block_tokens);

  int total() const { return static_cast<int>(ref_counts_.size()); }
  int free_count() const { return static_cast<int>(free_list_.size()); }
  int used_count() const { return total() - free_count(); }
  int block_tokens() const { return block_tokens_; }

  // Pages a sequence of `tokens` tokens needs in all.
  int pages_for(int tokens, int pages_per_block) const;

  // A sequence without pages: room for all of its tokens (prompt, plus completion when recomputed)?
  bool can_allocate(const Sequence& seq, int pages_per_block) const;
  void allocate(Sequence& seq, int pages_per_block);  // throws if !can_allocate
  // A running sequence: room to cover seq.len() tokens (the token about to be decoded)?
  bool can_append(const Sequence& seq, int pages_per_block) const;
  void append_slot(Sequence& seq, int pages_per_block);  // throws if !can_append
  // Drops the sequence's references; pages whose count reaches zero return to the free list.
  void free(Sequence& seq);
  // A child (no pages) shares the parent's KV: the pages of the parent's full blocks by reference, and
  // fresh pages for its last, partial block, which the caller fills by copying copy_from -> copy_to.
  // False (nothing changed) when the pool lacks those fresh pages.
  bool fork(const Sequence& parent, Sequence& child, int pages_per_block, std::vector<int32_t>& copy_from,
            std::vector<int32_t>& copy_to);

  // Page-level primitives (also used to share pages between sequences).
  int32_t take_page();
  void add_ref(int32_t page);
  void release(int32_t page);
  int ref_count(int32_t page) const { return ref_counts_.at(page); }

  // free + used == total, free pages have count 0 and appear once, used pages have count > 0.
  bool check_integrity(std::string* why = nullptr) const;

 private:
  int block_tokens_;
  std::vector<int> ref_counts_;     // (num_pages)
  std::vector<int32_t> free_list_;  // LIFO, so recently freed pages are reused while warm
};

}  // namespace tidepool
