// The byte strings of a tokenizer's ids, registered by the protocol's `vocab` command, and a trie over
// them: one walk of the trie beside the automaton visits each shared prefix once, so building a state's
// mask costs the trie's size at most, not the vocabulary's total bytes (token_masks.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "json.h"

namespace tidepool {

struct VocabLimits {
  static constexpr int64_t kMaxTokens = 1 << 20;
  static constexpr int64_t kMaxTokenBytes = 1024;
};

class TokenVocab {
 public:
  // Trie in first-child / next-sibling form; siblings in increasing byte order.
  struct Node {
    int32_t first_child = -1;
    int32_t next_sibling = -1;
    int32_t first_token = 0;  // into token_ids(): the ids whose bytes end here
    int32_t token_count = 0;
    uint8_t byte = 0;
  };

  // Reads {"tokens": [base64 string or null, ...]} (index = token id; null or "" = no bytes, such as a
  // special token, which no grammar allows); throws EngineError("bad_request") naming the problem.
  static TokenVocab from_json(const Json& cmd);

  int32_t size() const { return static_cast<int32_t>(offsets_.size()) - 1; }
  const uint8_t* token_bytes(int32_t id) const { return blob_.data() + offsets_[id]; }
  size_t token_length(int32_t id) const { return offsets_[id + 1] - offsets_[id]; }
  const std::vector<Node>& nodes() const { return nodes_; }  // nodes()[0] is the root (no byte)
  const std::vector<int32_t>& token_ids() const { return token_ids_; }
  size_t bytes() const;

 private:
  void build_trie();

  std::vector<uint8_t> blob_;      // every token's bytes, concatenated
  std::vector<uint32_t> offsets_;  // (size + 1)
  std::vector<Node> nodes_;
  std::vector<int32_t> token_ids_;  // ids with bytes, sorted by their bytes
};

}  // namespace tidepool
