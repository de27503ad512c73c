// exp over a row in float: a Cody-Waite reduction and Cephes expf's degree-7 minimax polynomial, 16, 8 or 4
// ids at a time (AVX-512 or AVX2 + FMA where the CPU has them, else SSE2 with each product rounded), summed
// in double. Arguments below -87 count as -87 (a term under 1.7e-38).
// The scalar forms reproduce one vector lane bit for bit, so a caller can take a term back out of a sum
// exactly (normaliser.cpp does, to replace candidates' terms with exact ones).
#pragma once

#include <cstdint>

namespace tidepool {

constexpr float kMinExpArgument = -87.0f;     // exp(-87) is still a normal float; lower terms count as 0
constexpr double kFastExpRelError = 4e-7;     // |fast_exp(x) / exp(x) - 1| on [-87, 0], both forms (test_sampler)
constexpr double kArgumentRelError = 2.5e-7;  // of x = fl(fl(logit - max) * fl(1 / T)): three roundings

enum class ExpForm { Plain, Fused };  // Fused: the AVX-512 and AVX2 lanes (FMA)

struct ExpSums {
  double z = 0;         // sum of exp(x) over the terms
  double weighted = 0;  // sum of |x| * exp(x), accumulated in float: within 0.5% (kWeightedSlack) of exact
  double terms = 0;     // ids visited
  ExpForm form = ExpForm::Plain;
};
constexpr double kWeightedSlack = 5e-3;  // 38k float additions per lane at most, each within 2^-24

// Sums exp((l[i] - max) * inv_t) over i < n, skipping ids whose bit in `bits` (if given) is clear.
ExpSums sum_exp_dense(const float* l, int32_t n, const uint64_t* bits, float max, float inv_t);
// The same over a list of ids (scalar, plain form).
ExpSums sum_exp_listed(const float* l, const int32_t* ids, int32_t n, float max, float inv_t);

// One term, exactly as the named form computes it (arguments clamped at kMinExpArgument).
float fast_exp(float x, ExpForm form = ExpForm::Plain);
inline float exp_argument(float logit, float max, float inv_t) { return (logit - max) * inv_t; }

// Which vector path sum_exp_dense takes: "best" (the default: the widest the CPU has), "avx512", "avx2" or
// "sse2", so tests check every path the machine has. Returns the name of the path now in use, or null
// (and changes nothing) when the CPU lacks it.
const char* use_vector_path(const char* name);

}  // namespace tidepool
