#include "precision_emulation.h"

#include <cstring>

#include "cpu_ops.h"

namespace tidepool {

namespace {

uint32_t bits_of(float v) {
  uint32_t x;
  std::memcpy(&x, &v, 4);
  return x;
}

// Rounds `value >> shift` to nearest, ties to even (shift >= 1).
uint32_t shift_round_even(uint32_t value, int shift) {
  const uint32_t kept = value >> shift, rest = value & ((1u << shift) - 1), half = 1u << (shift - 1);
  return kept + (rest > half || (rest == half && (kept & 1)) ? 1 : 0);
}

}  // namespace

uint16_t float_to_bf16_bits(float v) {
  const uint32_t x = bits_of(v);
  if ((x & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((x >> 16) | 0x0040u);  // quiet NaN
  return static_cast<uint16_t>(shift_round_even(x, 16));  // a carry into the exponent is the right answer
}

uint16_t float_to_half_bits(float v) {
  const uint32_t x = bits_of(v), sign = (x >> 16) & 0x8000u, mag = x & 0x7fffffffu;
  if (mag > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);   // NaN
  if (mag >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // >= 65520 (and inf): infinity
  if (mag < 0x38800000u) {                                               // below 2^-14: subnormal or zero
    if (mag <= 0x33000000u) return static_cast<uint16_t>(sign);          // <= 2^-25 rounds to zero (tie to even)
    const uint32_t exponent = mag >> 23, mantissa = (mag & 0x7fffffu) | 0x800000u;
    // value = mantissa * 2^(exponent - 150); in units of 2^-24 that is mantissa >> (126 - exponent).
    return static_cast<uint16_t>(sign | shift_round_even(mantissa, static_cast<int>(126 - exponent)));
  }
  // Normal: rebias the exponent (127 -> 15) and keep 10 mantissa bits; a carry may reach the exponent.
  return static_cast<uint16_t>(sign | shift_round_even(mag - (112u << 23), 13));
}

float round_to(DType dtype, float v) {
  switch (dtype) {
    case DType::BF16:
      return bf16_to_float(float_to_bf16_bits(v));
    case DType::F16:
      return half_to_float(float_to_half_bits(v));
    default:
      return v;
  }
}

void round_in_place(DType dtype, float* x, size_t n) {
  if (dtype != DType::BF16 && dtype != DType::F16) return;
  for (size_t i = 0; i < n; i++) x[i] = round_to(dtype, x[i]);
}

}  // namespace tidepool
