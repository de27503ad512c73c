// The per-sequence generator: splitmix64, small, seedable and identical on every platform. A sequence
// draws exactly one uniform per sampled token at temperature > 0 and none when greedy, so a
// (prompt, seed) pair gives the same tokens whatever else the engine runs.
#pragma once

#include <cstdint>

namespace tidepool {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1), 53 bits

 private:
  uint64_t state_;
};

}  // namespace tidepool
