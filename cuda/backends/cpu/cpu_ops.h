// CPU reference ops. Weights are read in their stored dtype (f32, f16, bf16) straight from the mapped
// safetensors and converted one row at a time; all arithmetic accumulates in f32. Each output element is
// computed by the same code in the same order whatever the batch, so a token's result does not depend on
// which other sequences share its step (this is what makes park/restore and interleaving bit-exact).
#pragma once

#include <cstddef>
#include <cstdint>

#include "../../src/safetensors.h"

namespace tidepool {

class ThreadPool;

float half_to_float(uint16_t h);
float bf16_to_float(uint16_t b);

// Row `row` of a 2-D tensor (or the whole 1-D tensor for row 0) as f32: a pointer into the mapping when
// the tensor is f32, else `scratch` filled by conversion. `cols` elements.
const float* tensor_row_f32(const TensorView& t, int64_t row, int64_t cols, float* scratch);

float dot_f32(const float* a, const float* b, int n);

// x (T, n) -> out (T, n): x * rsqrt(mean(x^2) + eps) * weight, per row.
void rms_norm(const float* x, int T, int n, const TensorView& weight, float eps, float* out);

// Y (T, out_dim) = X (T, in_dim) · W^T (+ bias); W is (out_dim, in_dim). Parallel over output rows.
void matmul(ThreadPool& pool, const float* X, int T, int in_dim, const TensorView& W, const TensorView* bias, float* Y,
            int out_dim);

// HF "rotate_half" RoPE on n_heads vectors of head_dim at one position; inv_freq has head_dim/2 entries.
void rope(float* v, int n_heads, int head_dim, int pos, const float* inv_freq);

float silu(float x);

}  // namespace tidepool
