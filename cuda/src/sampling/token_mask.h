// A set of allowed token ids over a vocabulary (the grammar's mask for one automaton state): a bitset,
// plus the sorted id list when the set is small enough that walking the list beats scanning the row.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tidepool {

struct TokenMask {
  int32_t vocab = 0;
  int32_t count = 0;           // allowed ids
  std::vector<uint64_t> bits;  // (ceil(vocab / 64)), bit id % 64 of word id / 64
  std::vector<int32_t> ids;    // sorted allowed ids; filled only when sparse()
  bool listed = false;         // ids is filled

  static constexpr int32_t kSparseDivisor = 8;  // listed when count <= vocab / 8

  bool allows(int32_t id) const { return id >= 0 && id < vocab && ((bits[id >> 6] >> (id & 63)) & 1); }
  void reset(int32_t vocab_size) {
    vocab = vocab_size;
    count = 0;
    bits.assign((vocab_size + 63) / 64, 0);
    ids.clear();
    listed = false;
  }
  void allow(int32_t id) {
    uint64_t& word = bits[id >> 6];
    const uint64_t bit = uint64_t{1} << (id & 63);
    if (!(word & bit)) count++;
    word |= bit;
  }
  // Builds the id list when the set is small; call once after the last allow().
  void finish() {
    ids.clear();
    listed = count <= vocab / kSparseDivisor;
    if (!listed) return;
    ids.reserve(count);
    for (int32_t w = 0; w < static_cast<int32_t>(bits.size()); w++)
      for (uint64_t word = bits[w]; word; word &= word - 1) ids.push_back(w * 64 + __builtin_ctzll(word));
  }
  size_t bytes() const { return bits.size() * sizeof(uint64_t) + ids.capacity() * sizeof(int32_t) + sizeof(*this); }
};

}  // namespace tidepool
