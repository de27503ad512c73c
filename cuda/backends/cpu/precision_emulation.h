// Rounding to the CUDA backend's storage types, for the CPU backend's precision emulation (see
// backends/precision.h for where the CUDA layer loop rounds). Round-to-nearest-even, as __float2bfloat16_rn
// and __float2half_rn do on the device: f16 overflows to infinity, keeps subnormals; NaN stays NaN.
#pragma once

#include <cstddef>
#include <cstdint>

#include "../../src/safetensors.h"

namespace tidepool {

uint16_t float_to_bf16_bits(float v);
uint16_t float_to_half_bits(float v);

// v rounded to `dtype` and widened back to f32 (identity for F32).
float round_to(DType dtype, float v);
// x (n) rounded in place; nothing to do for F32.
void round_in_place(DType dtype, float* x, size_t n);

}  // namespace tidepool
