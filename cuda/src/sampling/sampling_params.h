// What a sequence asks of the sampler: every OpenAI / vLLM sampling parameter the engine honours, with the
// protocol's limits beside each field. The protocol's `add` handler validates against these limits
// (src/add_command.cpp); the sampler assumes a validated record.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

namespace tidepool {

struct SamplingLimits {
  static constexpr double kMaxTemperature = 1e4;
  static constexpr int32_t kMaxTopK = 1 << 20;
  static constexpr double kMaxAbsPenalty = 2;  // presence and frequency, as OpenAI
  static constexpr double kMaxRepetitionPenalty = 100;
  static constexpr double kMaxAbsBias = 100;  // logit_bias values, as OpenAI
  static constexpr int kMaxBiasEntries = 1024;
  static constexpr int kMaxTopLogprobs = 20;
  static constexpr int kMaxStopIds = 1024;  // stop_ids and eos_ids, each
};

struct SamplingParams {
  float temperature = 0;         // 0 = greedy (argmax of the processed row; lowest id on ties)
  float top_p = 1;               // (0, 1]; 1 = off
  int32_t top_k = 0;             // 0 = off; else keep the k best (lowest id first on ties)
  float min_p = 0;               // [0, 1]; keep tokens with probability >= min_p * the top probability
  float presence_penalty = 0;    // [-2, 2], subtracted once from every token the output already holds
  float frequency_penalty = 0;   // [-2, 2], subtracted per occurrence in the output
  float repetition_penalty = 1;  // (0, 100]; 1 = off; prompt and output tokens (HF / vLLM)
  std::vector<std::pair<int32_t, float>> logit_bias;  // (id, bias in [-100, 100]), sorted by id, unique
  int32_t min_tokens = 0;    // stop and (unless ignore_eos) eos ids are masked until this many are produced
  bool ignore_eos = false;   // eos ids neither end the sequence nor get masked
  bool logprobs = false;     // report the chosen token's log-probability
  int32_t top_logprobs = 0;  // and this many alternatives, [0, 20] (needs logprobs)
  uint64_t seed = 0;

  bool greedy() const { return temperature <= 0; }
  bool penalizes() const { return presence_penalty != 0 || frequency_penalty != 0 || repetition_penalty != 1; }
  // True when stage 1 may change the row beyond masking (so raw and processed logits can differ).
  bool edits_logits() const { return penalizes() || !logit_bias.empty(); }
};

}  // namespace tidepool
