// The softmax normaliser of a processed row: z = sum over unmasked ids of q_i, q_i = exp((l_i - max) / T),
// with a bound on |z - exact| (exact: the same sum in real numbers).
//
// The host computes it in two parts. One fast pass (fast_exp.h) sums every term in float precision; then
// the terms of the candidates stage 2 selected, which hold most of the mass, are taken back out and put
// in again computed exactly (std::exp in double, as stage 3 computes q). The bound therefore covers only
// the tail's float error: the polynomial's relative error, the float rounding of x (at most
// |x| * kArgumentRelError of each term), the double sums' rounding and the terms dropped under exp(-87).
// Stage 3 never trusts z beyond that bound: a decision it cannot prove inside it asks for
// exact_normaliser, the whole sum with std::exp in double in id order.
#pragma once

#include <vector>

#include "fast_exp.h"
#include "row_view.h"
#include "sampling_candidates.h"

namespace tidepool {

struct Normaliser {
  double z = 0;
  double error = 0;  // |z - exact| <= error
};

// The fast pass over every unmasked id; `max` must be >= each of their logits; temperature > 0.
ExpSums fast_pass(const RowView& row, float max, float temperature);
// z from a fast pass with the terms of `top` (unmasked, distinct ids of the same row) replaced by their
// exact values `exact[i]` = exp((double(top[i].logit) - max) / temperature).
Normaliser combine(const ExpSums& pass, const std::vector<Candidate>& top, const std::vector<double>& exact, float max,
                   float temperature);
inline Normaliser fast_normaliser(const RowView& row, float max, float temperature) {
  return combine(fast_pass(row, max, temperature), {}, {}, max, temperature);
}
double exact_normaliser(const RowView& row, float max, float temperature);

}  // namespace tidepool
