#include "token_vocab.h"

#include <algorithm>
#include <cstring>

#include "errors.h"

namespace tidepool {

namespace {

[[noreturn]] void refuse(const std::string& message) { throw EngineError("bad_request", "vocab: " + message); }

int8_t base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<int8_t>(c - 'A');
  if (c >= 'a' && c <= 'z') return static_cast<int8_t>(c - 'a' + 26);
  if (c >= '0' && c <= '9') return static_cast<int8_t>(c - '0' + 52);
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 with padding; false on any other character or a bad length.
bool decode_base64(const std::string& text, std::vector<uint8_t>& out) {
  if (text.size() % 4) return false;
  for (size_t i = 0; i < text.size(); i += 4) {
    int32_t v[4];
    int pad = 0;
    for (int k = 0; k < 4; k++) {
      const char c = text[i + k];
      if (c == '=' && i + 4 == text.size() && k >= 2) {
        v[k] = 0;
        pad++;
        continue;
      }
      if (pad || (v[k] = base64_value(c)) < 0) return false;
    }
    const uint32_t word = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<uint8_t>(word >> 16));
    if (pad < 2) out.push_back(static_cast<uint8_t>(word >> 8));
    if (pad < 1) out.push_back(static_cast<uint8_t>(word));
  }
  return true;
}

}  // namespace

TokenVocab TokenVocab::from_json(const Json& cmd) {
  const Json* tokens = cmd.find("tokens");
  if (!tokens || !tokens->is_array() || tokens->size() == 0)
    refuse("tokens must be a non-empty array of base64 strings (or null)");
  if (static_cast<int64_t>(tokens->size()) > VocabLimits::kMaxTokens)
    refuse("more than " + std::to_string(VocabLimits::kMaxTokens) + " tokens");
  TokenVocab v;
  v.offsets_.reserve(tokens->size() + 1);
  v.offsets_.push_back(0);
  for (size_t id = 0; id < tokens->size(); id++) {
    const Json& t = tokens->as_array()[id];
    const size_t before = v.blob_.size();
    if (!t.is_null() && (!t.is_string() || !decode_base64(t.as_string(), v.blob_)))
      refuse("token " + std::to_string(id) + " is not a base64 string or null");
    if (static_cast<int64_t>(v.blob_.size() - before) > VocabLimits::kMaxTokenBytes)
      refuse("token " + std::to_string(id) + " is longer than " + std::to_string(VocabLimits::kMaxTokenBytes) +
             " bytes");
    v.offsets_.push_back(static_cast<uint32_t>(v.blob_.size()));
  }
  v.build_trie();
  return v;
}

// Inserting ids in byte order creates each node's children in increasing byte order, so every new child
// is its parent's last; `path` holds the nodes of the previous token's bytes.
void TokenVocab::build_trie() {
  for (int32_t id = 0; id < size(); id++)
    if (token_length(id) > 0) token_ids_.push_back(id);
  auto less = [&](int32_t a, int32_t b) {
    const size_t la = token_length(a), lb = token_length(b);
    const int c = std::memcmp(token_bytes(a), token_bytes(b), std::min(la, lb));
    return c != 0 ? c < 0 : (la != lb ? la < lb : a < b);
  };
  std::sort(token_ids_.begin(), token_ids_.end(), less);
  nodes_.assign(1, Node{});
  std::vector<int32_t> path = {0}, last_child = {-1};
  int32_t previous = -1;
  for (size_t i = 0; i < token_ids_.size(); i++) {
    const int32_t id = token_ids_[i];
    const uint8_t* b = token_bytes(id);
    const size_t n = token_length(id);
    size_t common = 0;
    if (previous >= 0)
      while (common < n && common < token_length(previous) && token_bytes(previous)[common] == b[common]) common++;
    path.resize(common + 1);
    for (size_t k = common; k < n; k++) {
      const int32_t parent = path.back(), child = static_cast<int32_t>(nodes_.size());
      Node node;
      node.byte = b[k];
      nodes_.push_back(node);
      last_child.push_back(-1);
      if (last_child[parent] < 0) nodes_[parent].first_child = child;
      else nodes_[last_child[parent]].next_sibling = child;
      last_child[parent] = child;
      path.push_back(child);
    }
    Node& end = nodes_[path.back()];
    if (end.token_count == 0) end.first_token = static_cast<int32_t>(i);
    end.token_count++;
    previous = id;
  }
}

size_t TokenVocab::bytes() const {
  return blob_.size() + offsets_.size() * sizeof(uint32_t) + nodes_.size() * sizeof(Node) +
         token_ids_.size() * sizeof(int32_t);
}

}  // namespace tidepool
