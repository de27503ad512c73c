#include "add_command.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "errors.h"

namespace tidepool {

namespace {

[[noreturn]] void refuse(const std::string& message) { throw EngineError("bad_request", message); }

const Json* present(const Json& cmd, const char* key) {
  const Json* v = cmd.find(key);
  return v && !v->is_null() ? v : nullptr;
}

// A number in [lo, hi] (inclusive unless open_lo), or the fallback when absent. Range checks come before
// any narrowing cast: a double outside float's range is undefined behaviour to cast.
double number_in(const Json& cmd, const char* key, double fallback, double lo, double hi, bool open_lo,
                 const char* range) {
  const Json* v = present(cmd, key);
  if (!v) return fallback;
  const double x = v->is_number() ? v->as_double() : NAN;
  if (!(open_lo ? x > lo : x >= lo) || !(x <= hi)) refuse(std::string(key) + " must be a number in " + range);
  return x;
}

int64_t int_in(const Json& cmd, const char* key, int64_t fallback, int64_t lo, int64_t hi) {
  const Json* v = present(cmd, key);
  if (!v) return fallback;
  if (!v->is_int() || v->as_int() < lo || v->as_int() > hi)
    refuse(std::string(key) + " must be an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  return v->as_int();
}

bool bool_of(const Json& cmd, const char* key) {
  const Json* v = present(cmd, key);
  if (!v) return false;
  if (!v->is_bool()) refuse(std::string(key) + " must be a boolean");
  return v->as_bool();
}

std::vector<int32_t> ids_of(const Json& cmd, const char* key, bool required, size_t max_count) {
  std::vector<int32_t> out;
  const Json* v = present(cmd, key);
  if (!v) {
    if (required) refuse(std::string("missing field ") + key);
    return out;
  }
  if (!v->is_array()) refuse(std::string(key) + " must be an array of token ids");
  if (v->size() > max_count) refuse(std::string(key) + " holds more than " + std::to_string(max_count) + " ids");
  for (const Json& t : v->as_array()) {
    if (!t.is_int() || t.as_int() < 0 || t.as_int() > INT32_MAX) refuse(std::string(key) + " holds a bad token id");
    out.push_back(static_cast<int32_t>(t.as_int()));
  }
  return out;
}

// [[id, bias], ...]: ids unique, biases in [-100, 100]; returned sorted by id.
std::vector<std::pair<int32_t, float>> logit_bias_of(const Json& cmd) {
  std::vector<std::pair<int32_t, float>> out;
  const Json* v = present(cmd, "logit_bias");
  if (!v) return out;
  const double limit = SamplingLimits::kMaxAbsBias;
  if (!v->is_array() || v->size() > static_cast<size_t>(SamplingLimits::kMaxBiasEntries))
    refuse("logit_bias must be an array of at most " + std::to_string(SamplingLimits::kMaxBiasEntries) +
           " [token id, bias] pairs");
  for (const Json& pair : v->as_array()) {
    const bool shaped =
        pair.is_array() && pair.size() == 2 && pair.as_array()[0].is_int() && pair.as_array()[1].is_number();
    if (!shaped) refuse("logit_bias entries must be [token id, bias] pairs");
    const int64_t id = pair.as_array()[0].as_int();
    const double bias = pair.as_array()[1].as_double();
    if (id < 0 || id > INT32_MAX) refuse("logit_bias holds a bad token id " + std::to_string(id));
    if (!(bias >= -limit && bias <= limit))
      refuse("logit_bias for token " + std::to_string(id) + " must be a number in [-100, 100]");
    out.emplace_back(static_cast<int32_t>(id), static_cast<float>(bias));
  }
  std::sort(out.begin(), out.end());
  for (size_t i = 1; i < out.size(); i++)
    if (out[i].first == out[i - 1].first) refuse("logit_bias lists token " + std::to_string(out[i].first) + " twice");
  return out;
}

SamplingParams sampling_of(const Json& cmd, int max_tokens) {
  SamplingParams s;
  s.temperature =
      static_cast<float>(number_in(cmd, "temperature", 0, 0, SamplingLimits::kMaxTemperature, false, "[0, 1e4]"));
  s.top_p = static_cast<float>(number_in(cmd, "top_p", 1, 0, 1, true, "(0, 1]"));
  s.top_k = static_cast<int32_t>(int_in(cmd, "top_k", 0, 0, SamplingLimits::kMaxTopK));
  s.min_p = static_cast<float>(number_in(cmd, "min_p", 0, 0, 1, false, "[0, 1]"));
  s.presence_penalty = static_cast<float>(number_in(cmd, "presence_penalty", 0, -2, 2, false, "[-2, 2]"));
  s.frequency_penalty = static_cast<float>(number_in(cmd, "frequency_penalty", 0, -2, 2, false, "[-2, 2]"));
  s.repetition_penalty = static_cast<float>(
      number_in(cmd, "repetition_penalty", 1, 0, SamplingLimits::kMaxRepetitionPenalty, true, "(0, 100]"));
  s.logit_bias = logit_bias_of(cmd);
  s.min_tokens = static_cast<int32_t>(int_in(cmd, "min_tokens", 0, 0, max_tokens));
  s.ignore_eos = bool_of(cmd, "ignore_eos");
  s.logprobs = bool_of(cmd, "logprobs");
  s.top_logprobs = static_cast<int32_t>(int_in(cmd, "top_logprobs", 0, 0, SamplingLimits::kMaxTopLogprobs));
  if (s.top_logprobs > 0 && !s.logprobs) refuse("top_logprobs needs logprobs: true");
  const Json* seed = present(cmd, "seed");
  if (seed) {
    if (!seed->is_int()) refuse("seed must be an integer");
    s.seed = static_cast<uint64_t>(seed->as_int());
  }
  return s;
}

// `seq`, or `seqs` (n > 1: every id, the first prefilled, the rest forked) with optional `seeds`.
void ids_and_seeds(const Json& cmd, SequenceSpec& spec) {
  const Json* seq = present(cmd, "seq");
  const Json* seqs = present(cmd, "seqs");
  if (seq && seqs) refuse("give seq or seqs, not both");
  if (!seqs) {
    if (!seq || !seq->is_int()) refuse("seq must be an integer");
    spec.id = seq->as_int();
    return;
  }
  if (!seqs->is_array() || seqs->size() == 0 || seqs->size() > static_cast<size_t>(kMaxSequencesPerAdd))
    refuse("seqs must be an array of 1 to " + std::to_string(kMaxSequencesPerAdd) + " sequence ids");
  for (const Json& id : seqs->as_array())
    if (!id.is_int()) refuse("seqs must hold integer sequence ids");
  spec.id = seqs->as_array()[0].as_int();
  for (size_t i = 1; i < seqs->size(); i++) spec.fork_ids.push_back(seqs->as_array()[i].as_int());
  const Json* seeds = present(cmd, "seeds");
  if (!seeds) return;
  if (!seeds->is_array() || seeds->size() != seqs->size())
    refuse("seeds must be an array with one seed per id in seqs");
  for (const Json& s : seeds->as_array())
    if (!s.is_int()) refuse("seeds must hold integers");
  spec.sampling.seed = static_cast<uint64_t>(seeds->as_array()[0].as_int());
  for (size_t i = 1; i < seeds->size(); i++)
    spec.fork_seeds.push_back(static_cast<uint64_t>(seeds->as_array()[i].as_int()));
}

}  // namespace

SequenceSpec parse_add_command(const Json& cmd) {
  SequenceSpec spec;
  const Json* model = cmd.find("model");
  if (!model || !model->is_string() || model->as_string().empty()) refuse("model must be a non-empty string");
  spec.model = model->as_string();
  spec.prompt = ids_of(cmd, "prompt", true, SIZE_MAX);
  const Json* max_tokens = cmd.find("max_tokens");
  if (!max_tokens || !max_tokens->is_int() || max_tokens->as_int() < 0 || max_tokens->as_int() > (int64_t{1} << 30))
    refuse("max_tokens must be an integer in [0, 2^30]");
  spec.max_tokens = static_cast<int>(max_tokens->as_int());
  spec.sampling = sampling_of(cmd, spec.max_tokens);
  ids_and_seeds(cmd, spec);
  spec.stop_ids = ids_of(cmd, "stop_ids", false, SamplingLimits::kMaxStopIds);
  spec.eos_ids = ids_of(cmd, "eos_ids", false, SamplingLimits::kMaxStopIds);
  spec.want_logits = bool_of(cmd, "logits");
  if (const Json* embed = present(cmd, "embed")) {
    if (!embed->is_string() || (embed->as_string() != "mean" && embed->as_string() != "last"))
      refuse("embed must be \"mean\" or \"last\" (the pooling of an embedding)");
    spec.pooling = embed->as_string() == "mean" ? Pooling::Mean : Pooling::Last;
  }
  const Json* grammar = present(cmd, "grammar");
  const Json* vocab = present(cmd, "vocab");
  if (grammar || vocab) {
    if (!grammar || !grammar->is_string() || grammar->as_string().empty() || !vocab || !vocab->is_string() ||
        vocab->as_string().empty())
      refuse("grammar and vocab must be given together, as registered names");
    spec.grammar = grammar->as_string();
    spec.vocab = vocab->as_string();
  }
  return spec;
}

}  // namespace tidepool
