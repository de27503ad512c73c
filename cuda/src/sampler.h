// Token sampling on the host: greedy argmax at temperature 0, else softmax(logits / T) truncated to the
// smallest top-p mass, drawn from the sequence's own generator so (prompt, seed) always gives the same tokens.
#pragma once

#include <cstdint>

namespace tidepool {

// splitmix64: small, seedable, identical on every platform.
class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next();
  double uniform();  // [0, 1) with 53 bits

 private:
  uint64_t state_;
};

int32_t argmax(const float* logits, int n);  // lowest index wins ties
int32_t sample_token(const float* logits, int n, float temperature, float top_p, Rng& rng);

}  // namespace tidepool
