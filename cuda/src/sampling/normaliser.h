// The softmax normaliser of a processed row: z = sum over unmasked ids of exp((logit - max) / T).
//
// fast_normaliser evaluates exp in float with a Cody-Waite reduction and a degree-7 polynomial (SSE2, or
// AVX2 + FMA where the CPU has it), sums in double, and returns a bound on its distance to the exact
// real-number sum built from three terms: the polynomial's relative error (kFastExpRelError, checked
// by test_sampler over [-87, 0]), the float rounding of x = (logit - max) / T (which perturbs exp(x)
// by at most |x| * kArgumentRelError, so the bound carries sum(|x| * exp(x))), and the double sums.
// Terms below exp(-87) are dropped (each < 1.7e-38; the bound covers them). Stage 3 never trusts z
// beyond that bound: a decision it cannot prove inside it asks for exact_normaliser, the same sum with
// std::exp in double in id order.
#pragma once

#include "row_view.h"

namespace tidepool {

constexpr double kFastExpRelError = 4e-7;    // |fast_exp(x) / exp(x) - 1| for x in [-87, 0], both paths
constexpr double kArgumentRelError = 2.5e-7;  // relative error of x = fl(fl(logit - max) * fl(1 / T))

struct Normaliser {
  double z = 0;
  double error = 0;  // |z - exact| <= error
};

// `max` must be >= every unmasked logit; temperature > 0.
Normaliser fast_normaliser(const RowView& row, float max, float temperature);
double exact_normaliser(const RowView& row, float max, float temperature);

// The scalar form of the vector exponent, for tests and short lists; x <= 0, 0 below -87.
float fast_exp(float x);

// Which vector path fast_normaliser takes: the best the CPU has (default), or SSE2 even where AVX2 is
// present (so tests check both on one machine). Returns the name of the path now in use.
const char* use_vector_path(bool best);

}  // namespace tidepool
