// A sequence is a plain record: its tokens, sampling settings, where its KV lives and how far it got.
// Status moves Waiting -> Running -> Finished, with Running <-> Parked (KV on the host) and
// Running -> Waiting (preempted for KV space; recomputed on readmission).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "sampling/rng.h"
#include "sampling/sampling_params.h"
#include "sampling/token_counts.h"

namespace tidepool {

enum class SeqStatus { Waiting, Running, Parked, Finished };

// An embedding sequence (Pooling other than None) is prefilled and ends there: its done event carries the
// pooled, L2-normalised final hidden states instead of tokens (engine_embed.cpp).
enum class Pooling { None, Mean, Last };

struct RegisteredGrammar;
struct RegisteredVocab;

// Where a constrained sequence stands in its automaton (grammar/); null grammar = unconstrained.
struct GrammarCursor {
  std::shared_ptr<const RegisteredGrammar> grammar;
  std::shared_ptr<const RegisteredVocab> vocab;
  int32_t state = 0;  // after the completion so far
};

struct Sequence {
  int64_t id = 0;
  std::string model;
  std::vector<int32_t> tokens;  // prompt followed by completion
  int prompt_len = 0;
  int max_tokens = 0;
  SamplingParams sampling;
  std::vector<int32_t> stop_ids;  // produced: the sequence ends with "stop"
  std::vector<int32_t> eos_ids;   // the same unless sampling.ignore_eos
  bool want_logits = false;       // send last-position logits with each token
  bool all_logits = false;        // return logits for every prompt position on prefill (forward mode)

  SeqStatus status = SeqStatus::Waiting;
  int num_cached = 0;              // tokens whose K/V are in the pool (or in parked_kv)
  std::vector<int32_t> pages;      // block table; pages_per_block entries per logical block
  std::vector<uint8_t> parked_kv;  // host copy of `pages` while Parked
  int parked_pages = 0;
  Rng rng;
  TokenCounts counts;  // prompt and output ids, kept only when sampling penalizes (sequence_sampling.cpp)
  GrammarCursor grammar;
  Pooling pooling = Pooling::None;
  std::vector<int64_t> pending_forks;  // children waiting for this sequence's prefill (n > 1)
  int64_t fork_parent = -1;            // while a pending child: the parent whose prefill it waits for

  int len() const { return static_cast<int>(tokens.size()); }
  int completion_tokens() const { return len() - prompt_len; }
  int32_t last_token() const { return tokens.back(); }
};

}  // namespace tidepool
