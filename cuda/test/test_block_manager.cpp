// Block manager: random allocate / append / free sequences keep free + used == total and every count
// consistent; queries agree with commands.
#include <iostream>
#include <random>

#include "block_manager.h"
#include "test_support.h"

using namespace tidepool;

int main() {
  std::mt19937 rng(7);
  const int pages = 97, block_tokens = 4;
  BlockManager bm(pages, block_tokens);
  CHECK(bm.check_integrity());
  std::vector<Sequence> seqs(12);
  int ops = 0, refused = 0;
  for (int round = 0; round < 20000; round++) {
    Sequence& s = seqs[rng() % seqs.size()];
    const int ppb = 1 + static_cast<int>(rng() % 3);
    const int action = rng() % 4;
    if (s.pages.empty()) {
      s.tokens.assign(1 + rng() % 30, 1);
      s.num_cached = 0;
      s.prompt_len = s.len();
      s.id = ppb;  // remember pages_per_block for the sequence's lifetime
      if (bm.can_allocate(s, ppb)) {
        bm.allocate(s, ppb);
        CHECK(static_cast<int>(s.pages.size()) == bm.pages_for(s.len(), ppb));
      } else {
        refused++;
        s.tokens.clear();
      }
    } else if (action == 0) {
      bm.free(s);
      s.tokens.clear();
    } else {
      s.tokens.push_back(2);
      if (bm.can_append(s, static_cast<int>(s.id))) {
        bm.append_slot(s, static_cast<int>(s.id));
        CHECK(static_cast<int>(s.pages.size()) == bm.pages_for(s.len(), static_cast<int>(s.id)));
      } else {
        s.tokens.pop_back();
        refused++;
      }
    }
    std::string why;
    if (!bm.check_integrity(&why)) {
      std::cerr << "integrity: " << why << "\n";
      return 1;
    }
    int held = 0;
    for (const Sequence& q : seqs) held += static_cast<int>(q.pages.size());
    CHECK(held == bm.used_count());
    ops++;
  }
  // Shared pages: a second reference keeps a page out of the free list until both are released.
  for (Sequence& s : seqs) bm.free(s);
  CHECK(bm.free_count() == pages);
  int32_t p = bm.take_page();
  bm.add_ref(p);
  bm.release(p);
  CHECK(bm.ref_count(p) == 1 && bm.free_count() == pages - 1);
  bm.release(p);
  CHECK(bm.free_count() == pages && bm.check_integrity());
  bool threw = false;
  try {
    bm.release(p);
  } catch (const std::exception&) {
    threw = true;
  }
  CHECK(threw && bm.check_integrity());
  std::cout << "block manager: " << ops << " random operations, " << refused
            << " refused for space, integrity held\nPASS\n";
  return 0;
}
