#include "block_manager.h"

#include "errors.h"

namespace tidepool {

BlockManager::BlockManager(int num_pages, int block_tokens) : block_tokens_(block_tokens), ref_counts_(num_pages, 0) {
  if (block_tokens <= 0) throw EngineError("bad_request", "block_tokens must be positive");
  free_list_.reserve(num_pages);
  for (int i = num_pages - 1; i >= 0; i--) free_list_.push_back(i);
}

int BlockManager::pages_for(int tokens, int pages_per_block) const {
  const int blocks = (tokens + block_tokens_ - 1) / block_tokens_;
  return blocks * pages_per_block;
}

bool BlockManager::can_allocate(const Sequence& seq, int pages_per_block) const {
  return seq.pages.empty() && pages_for(seq.len(), pages_per_block) <= free_count();
}

void BlockManager::allocate(Sequence& seq, int pages_per_block) {
  if (!can_allocate(seq, pages_per_block))
    throw EngineError("out_of_memory", "KV pool has no room for sequence " + std::to_string(seq.id));
  const int n = pages_for(seq.len(), pages_per_block);
  for (int i = 0; i < n; i++) seq.pages.push_back(take_page());
}

bool BlockManager::can_append(const Sequence& seq, int pages_per_block) const {
  const int missing = pages_for(seq.len(), pages_per_block) - static_cast<int>(seq.pages.size());
  return missing <= free_count();
}

void BlockManager::append_slot(Sequence& seq, int pages_per_block) {
  if (!can_append(seq, pages_per_block))
    throw EngineError("out_of_memory", "KV pool has no room for sequence " + std::to_string(seq.id));
  const int need = pages_for(seq.len(), pages_per_block);
  while (static_cast<int>(seq.pages.size()) < need) seq.pages.push_back(take_page());
}

void BlockManager::free(Sequence& seq) {
  for (auto it = seq.pages.rbegin(); it != seq.pages.rend(); ++it) release(*it);
  seq.pages.clear();
}

bool BlockManager::fork(const Sequence& parent, Sequence& child, int pages_per_block, std::vector<int32_t>& copy_from,
                        std::vector<int32_t>& copy_to) {
  const int full_pages = parent.num_cached / block_tokens_ * pages_per_block;
  const int partial_pages = static_cast<int>(parent.pages.size()) - full_pages;
  if (!child.pages.empty() || partial_pages < 0 || partial_pages > free_count()) return false;
  for (int i = 0; i < full_pages; i++) {
    add_ref(parent.pages[i]);
    child.pages.push_back(parent.pages[i]);
  }
  for (int i = full_pages; i < static_cast<int>(parent.pages.size()); i++) {
    copy_from.push_back(parent.pages[i]);
    copy_to.push_back(take_page());
    child.pages.push_back(copy_to.back());
  }
  return true;
}

int32_t BlockManager::take_page() {
  if (free_list_.empty()) throw EngineError("out_of_memory", "KV pool exhausted");
  int32_t page = free_list_.back();
  free_list_.pop_back();
  ref_counts_[page] = 1;
  return page;
}

void BlockManager::add_ref(int32_t page) {
  if (ref_counts_.at(page) <= 0) throw EngineError("internal", "add_ref on a free page");
  ref_counts_[page]++;
}

void BlockManager::release(int32_t page) {
  if (ref_counts_.at(page) <= 0) throw EngineError("internal", "release of a free page " + std::to_string(page));
  if (--ref_counts_[page] == 0) free_list_.push_back(page);
}

bool BlockManager::check_integrity(std::string* why) const {
  auto fail = [&](const std::string& what) {
    if (why) *why = what;
    return false;
  };
  std::vector<char> seen(ref_counts_.size(), 0);
  for (int32_t page : free_list_) {
    if (page < 0 || page >= total()) return fail("free list holds out-of-range page " + std::to_string(page));
    if (seen[page]++) return fail("page " + std::to_string(page) + " is free twice");
    if (ref_counts_[page] != 0) return fail("free page " + std::to_string(page) + " has references");
  }
  int used = 0;
  for (int i = 0; i < total(); i++) {
    if (ref_counts_[i] < 0) return fail("page " + std::to_string(i) + " has a negative count");
    if (!seen[i]) {
      if (ref_counts_[i] == 0) return fail("page " + std::to_string(i) + " is neither free nor referenced");
      used++;
    }
  }
  if (used + free_count() != total()) return fail("free + used != total");
  return true;
}

}  // namespace tidepool
