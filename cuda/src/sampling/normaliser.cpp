#include "normaliser.h"

#include <algorithm>
#include <cmath>

namespace tidepool {

ExpSums fast_pass(const RowView& row, float max, float temperature) {
  const float inv_t = 1.0f / temperature;
  if (row.mask && row.mask->listed)
    return sum_exp_listed(row.logits, row.mask->ids.data(), static_cast<int32_t>(row.mask->ids.size()), max, inv_t);
  return sum_exp_dense(row.logits, row.vocab, row.mask ? row.mask->bits.data() : nullptr, max, inv_t);
}

Normaliser combine(const ExpSums& pass, const std::vector<Candidate>& top, const std::vector<double>& exact, float max,
                   float temperature) {
  const float inv_t = 1.0f / temperature;
  double fast_top = 0, weighted_top = 0, exact_top = 0;
  for (size_t i = 0; i < top.size(); i++) {
    const float x = exp_argument(top[i].logit, max, inv_t);
    const float e = fast_exp(x, pass.form);  // the very value the pass added for this id
    fast_top += e;
    weighted_top += static_cast<double>(-x) * e;
    exact_top += exact[i];
  }
  const double tail = std::max(pass.z - fast_top, 0.0);
  const double tail_weighted = std::max(pass.weighted * (1 + kWeightedSlack) - weighted_top, 0.0);
  const double rounding = (pass.terms + top.size()) * 1.2e-16 * (pass.z + exact_top);  // double sums
  const double dropped = pass.terms * 1.7e-38;                                         // terms under exp(-87)
  Normaliser n;
  n.z = exact_top + tail;
  n.error = 1.01 * (kFastExpRelError * tail + kArgumentRelError * tail_weighted + rounding + dropped) + 1e-300;
  return n;
}

double exact_normaliser(const RowView& row, float max, float temperature) {
  double z = 0;
  auto term = [&](int32_t id) { z += std::exp((static_cast<double>(row.logits[id]) - max) / temperature); };
  if (row.mask && row.mask->listed) {
    for (int32_t id : row.mask->ids) term(id);
  } else {
    for (int32_t id = 0; id < row.vocab; id++)
      if (!row.mask || row.mask->allows(id)) term(id);
  }
  return z;
}

}  // namespace tidepool
