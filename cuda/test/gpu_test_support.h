// Helpers for the GPU tests that drive backends directly: a backend with its own small budget, a lane of
// sequences with fixed block tables, one forward over a lane, a relative error, checks that count
// failures, and a rewrite of a safetensors file into the unaligned layout real Hugging Face files have.
#pragma once

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "../backends/backend.h"
#include "errors.h"
#include "memory_plan.h"
#include "model.h"
#include "test_support.h"

namespace tidepool::testing {

inline int& gpu_failures() {
  static int n = 0;
  return n;
}

inline void expect(bool ok, const std::string& what) {
  std::printf("%-78s %s\n", what.c_str(), ok ? "ok" : "FAIL");
  std::fflush(stdout);
  if (!ok) gpu_failures()++;
}

inline double rel_l2(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return INFINITY;
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); i++) {
    if (!std::isfinite(a[i])) return INFINITY;
    num += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
    den += static_cast<double>(b[i]) * b[i];
  }
  return std::sqrt(num / std::max(den, 1e-30));
}

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

inline std::string fmt(const char* format, double v) {
  char text[160];
  std::snprintf(text, sizeof text, format, v);
  return text;
}

// A directory removed when it goes out of scope; in /dev/shm (where the node keeps weights, and where
// pinning must work) when this machine has it, else in /tmp.
struct TempDir {
  std::string path;
  explicit TempDir(const std::string& tag) {
    if (::access("/dev/shm", W_OK) == 0) {
      std::string templ = "/dev/shm/tidepool-" + tag + "-XXXXXX";
      if (::mkdtemp(templ.data())) path = templ;
    }
    if (path.empty()) path = make_temp_dir(tag);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  std::string operator/(const std::string& name) const { return path + "/" + name; }
};

// The CPU backend emulates the CUDA backend's roundings (backends/precision.h), so the two differ by
// summation order only.
inline std::unique_ptr<Backend> open_backend(const std::string& name, size_t budget_bytes, size_t kv_bytes) {
  BackendOptions options;
  options.emulate_cuda_precision = name == "cpu";
  std::unique_ptr<Backend> b = make_backend(name, options);
  MemoryRequest r;
  r.budget_bytes = budget_bytes;
  r.kv_budget_bytes = kv_bytes;
  b->init_memory(plan_memory(r, b->memory_source()));
  return b;
}

// Sequences of one model on one backend, each with its own consecutive pages (from first_page) for up to
// max_len tokens. Loads the model unless given the slot it already has.
struct Lane {
  Backend* backend = nullptr;
  const Model* model = nullptr;
  int slot = -1;
  KvLayout layout;
  std::vector<std::vector<int32_t>> tables;  // (sequences, pages)

  Lane(Backend& b, const Model& m, int sequences, int max_len, int first_page = 0, int loaded_slot = -1)
      : backend(&b), model(&m) {
    layout = make_kv_layout(m.config, 16, 64 << 10, b.kv_element_bytes());
    slot = loaded_slot >= 0 ? loaded_slot : b.load_slot(m, layout);
    const int pages = (max_len + 15) / 16 * layout.pages_per_block;
    for (int s = 0; s < sequences; s++) {
      tables.emplace_back(pages);
      for (int p = 0; p < pages; p++) tables.back()[p] = first_page + s * pages + p;
    }
  }

  // One forward: sequence s computes tokens[s] at positions start[s]..; logits of every token when
  // all_logits, else of each sequence's last token. Sequences with no tokens sit out.
  std::vector<float> step(const std::vector<std::vector<int32_t>>& tokens, const std::vector<int>& start,
                          bool all_logits = false) {
    std::vector<BatchEntry> batch;
    size_t rows = 0;
    for (size_t s = 0; s < tokens.size(); s++) {
      if (tokens[s].empty()) continue;
      BatchEntry e;
      e.tokens = tokens[s].data();
      e.n_tokens = static_cast<int>(tokens[s].size());
      e.start_pos = start[s];
      e.pages = tables[s].data();
      e.n_pages = static_cast<int>(tables[s].size());
      e.all_logits = all_logits;
      rows += all_logits ? tokens[s].size() : 1;
      batch.push_back(e);
    }
    std::vector<float> logits(rows * model->config.vocab_size);
    backend->forward(slot, batch, logits.data());
    return logits;
  }
};

inline std::vector<int32_t> prompt_tokens(int n, int vocab, int salt) {
  std::vector<int32_t> p;
  for (int i = 0; i < n; i++) p.push_back(static_cast<int32_t>((i * 7919 + salt * 131 + 17) % vocab));
  return p;
}

inline int32_t argmax_row(const std::vector<float>& logits, size_t row, int vocab) {
  const float* r = logits.data() + row * vocab;
  return static_cast<int32_t>(std::max_element(r, r + vocab) - r);
}

// Rewrites dir/model.safetensors so its data starts 8 bytes past a 16-byte boundary, as files written by
// the safetensors library often do (it pads the header to 8 bytes only): the engine must then copy and
// place tensors one by one.
inline void make_hf_unaligned(const std::string& dir) {
  const std::string path = dir + "/model.safetensors";
  std::ifstream in(path, std::ios::binary);
  std::string file((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= static_cast<uint64_t>(static_cast<uint8_t>(file[i])) << (8 * i);
  std::string header = file.substr(8, n), data = file.substr(8 + n);
  while (header.back() == ' ') header.pop_back();
  while ((8 + header.size()) % 16 != 8) header += ' ';
  std::string out;
  for (int i = 0; i < 8; i++) out += static_cast<char>((header.size() >> (8 * i)) & 0xFF);
  write_file(path, out + header + data);
}

}  // namespace tidepool::testing
