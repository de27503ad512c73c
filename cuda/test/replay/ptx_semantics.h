// The PTX ISA's documented data layouts that the host replay emulates, written from the ISA text (not from
// our kernels), plus exact host conversions between f32 and the 16-bit float formats.
//
// Sources (PTX ISA 9.0, "Warp Level Matrix Multiply-Accumulate Instructions"):
// - §9.7.14.5.8 "Matrix Fragments for mma.m16n8k16 with floating point type": multiplicand A (.f16/.bf16,
//   four .f16x2 registers a0..a7, Figure 79), multiplicand B (two .f16x2 registers b0..b3) and the f32
//   accumulators c0..c3, each with groupID = %laneid >> 2 and threadID_in_group = %laneid % 4.
// - §9.7.14.5.15 "Warp-level matrix load instruction: ldmatrix": for .m8n8 .x4, threads 8q..8q+7 supply the
//   addresses of rows 0..7 of matrix q (16 contiguous bytes each); register q of each thread receives
//   from matrix q the two 16-bit elements of row %laneid >> 2 at columns 2 * (%laneid % 4) + {0, 1}
//   ("each thread holds a fragment of a row"); with .trans the matrix is read column-major, so the pair
//   is column %laneid >> 2 at rows 2 * (%laneid % 4) + {0, 1}. The lower-numbered element sits in the
//   lower 16 bits of the register, as for mma's .f16x2 operands.
#pragma once

#include <cstdint>
#include <cstring>

namespace tidepool::replay::ptx {

struct Coord {
  int row, col;
};

// Multiplicand A (16 x 16) element a_i, i = 0..7, held by `lane`.
inline Coord mma_a(int lane, int i) {
  const int group = lane >> 2, tig = lane % 4;
  const int row = (i < 2 || (i >= 4 && i < 6)) ? group : group + 8;
  const int col = tig * 2 + (i & 1) + (i >= 4 ? 8 : 0);
  return {row, col};
}
// Multiplicand B (16 x 8, rows = k) element b_i, i = 0..3.
inline Coord mma_b(int lane, int i) {
  const int group = lane >> 2, tig = lane % 4;
  return {tig * 2 + (i & 1) + (i >= 2 ? 8 : 0), group};
}
// Accumulator C/D (16 x 8) element c_i, i = 0..3.
inline Coord mma_c(int lane, int i) {
  const int group = lane >> 2, tig = lane % 4;
  return {group + (i >= 2 ? 8 : 0), tig * 2 + (i & 1)};
}
// ldmatrix .m8n8: which thread supplies row `row` of matrix `q`.
inline int ldmatrix_row_supplier(int q, int row) { return 8 * q + row; }
// ldmatrix .m8n8: element j (0 low, 1 high half of the register) that `lane` receives from a matrix, as
// (row, column) of the matrix as stored.
inline Coord ldmatrix_element(int lane, int j, bool trans) {
  const int a = lane >> 2, b = 2 * (lane % 4) + j;
  return trans ? Coord{b, a} : Coord{a, b};
}

// ---------------------------------------------------------------- 16-bit floats (round to nearest even)

inline uint32_t f32_bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, 4);
  return u;
}
inline float bits_f32(uint32_t u) {
  float v;
  std::memcpy(&v, &u, 4);
  return v;
}
inline float bf16_to_f32(uint16_t h) { return bits_f32(static_cast<uint32_t>(h) << 16); }
inline uint16_t f32_to_bf16(float v) {
  const uint32_t u = f32_bits(v);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((u >> 16) | 0x40);  // quiet NaN
  return static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1)) >> 16);
}
inline float f16_to_f32(uint16_t h) {
  _Float16 v;
  std::memcpy(&v, &h, 2);
  return static_cast<float>(v);
}
inline uint16_t f32_to_f16(float f) {
  const _Float16 v = static_cast<_Float16>(f);
  uint16_t h;
  std::memcpy(&h, &v, 2);
  return h;
}

}  // namespace tidepool::replay::ptx
