// Shared pieces of the replay tests: a seeded RNG, integer-valued half matrices (so every product and sum
// in f32 is exact and results compare bit for bit), poisoned outputs and a pass/fail tally.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "ptx_semantics.h"
#include "simt_emulator.h"

namespace tidepool::replay {

struct Tally {
  int failures = 0;
  void check(bool ok, const std::string& what) {
    std::printf("%-78s %s\n", what.c_str(), ok ? "ok" : "FAIL");
    if (!ok) failures++;
  }
  int exit_code() const {
    std::printf(failures ? "%d FAILED\n" : "all replays passed\n", failures);
    return failures ? 1 : 0;
  }
};

inline std::mt19937_64& rng() {
  static std::mt19937_64 r(20240611);
  return r;
}

inline int rand_int(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng()); }

// 16-bit patterns of integers in [lo, hi] in bf16 (bf16 == true) or f16, with their values.
struct HalfMatrix {
  std::vector<uint16_t> bits;
  std::vector<float> values;
};
inline HalfMatrix int_half_matrix(size_t n, int lo, int hi, bool bf16) {
  HalfMatrix m;
  m.bits.resize(n);
  m.values.resize(n);
  for (size_t i = 0; i < n; i++) {
    const float v = static_cast<float>(rand_int(lo, hi));
    m.bits[i] = bf16 ? ptx::f32_to_bf16(v) : ptx::f32_to_f16(v);
    m.values[i] = v;
  }
  return m;
}

inline uint16_t to_half_bits(float v, bool bf16) { return bf16 ? ptx::f32_to_bf16(v) : ptx::f32_to_f16(v); }

// Poison: f32 NaN / half NaN patterns, so unwritten elements never compare equal to a result.
constexpr uint32_t kPoison32 = 0x7FC0DEADu;
constexpr uint16_t kPoison16 = 0x7FFFu;

inline std::string ratio(long a, long b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f", b ? static_cast<double>(a) / b : 0.0);
  return buf;
}

// Wavefront summary of a run: conflict-free is 4 per ldmatrix.x4 and 4 per warp-wide 16-byte store.
inline bool conflict_free(const ReplayStats& s, std::string& detail) {
  detail = "ldmatrix wavefronts/instr " + ratio(s.ldmatrix_wavefronts, s.ldmatrix) + ", 16-byte stores " +
           ratio(s.store_wavefronts, s.store_instructions);
  return s.ldmatrix_wavefronts == 4 * s.ldmatrix && s.store_wavefronts == 4 * s.store_instructions;
}

}  // namespace tidepool::replay
