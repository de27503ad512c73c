// Shared helpers for the engine tests: checks, temporary directories, a writer for small random models of
// either architecture in any stored dtype, and a plain (unpaged, f64) reference forward pass.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "../backends/backend.h"
#include "model.h"

#define CHECK(cond)                                                                 \
  do {                                                                              \
    if (!(cond)) {                                                                  \
      std::fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      std::exit(1);                                                                 \
    }                                                                               \
  } while (0)

namespace tidepool::testing {

constexpr int kSkip = 77;

std::string make_temp_dir(const std::string& tag);
void write_file(const std::string& path, const std::string& bytes);

struct SynthSpec {
  std::string architecture = "LlamaForCausalLM";
  std::string dtype = "F32";  // F32, F16 or BF16
  bool qkv_bias = false;
  bool tie_embeddings = false;
  int hidden = 64, intermediate = 128, layers = 2, heads = 4, kv_heads = 2, vocab = 320, max_positions = 256;
  double rope_theta = 10000.0, rms_eps = 1e-5;
  uint64_t seed = 1;
};

// Writes config.json and model.safetensors into dir.
void write_synthetic_model(const std::string& dir, const SynthSpec& spec);

// Logits (positions, vocab) for a prompt, computed densely in double from the same tensors.
std::vector<std::vector<double>> reference_logits(const Model& model, const std::vector<int32_t>& tokens);

// Greedy continuation via the dense reference (quadratic; fine for tiny models).
std::vector<int32_t> reference_greedy(const Model& model, std::vector<int32_t> tokens, int n);

}  // namespace tidepool::testing
