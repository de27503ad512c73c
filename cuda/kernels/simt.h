// What a tensor-core kernel body needs to compile twice: by nvcc for the GPU, and by a plain C++ compiler
// for the host replay (cuda/test/replay), which runs the same body one emulated thread at a time. No CUDA
// header is included here. A body is a template over an executor `X` (one thread's view of the machine:
// its ids, shared memory as byte offsets, cp.async, barriers, ldmatrix, mma, shuffles and conversions);
// tc_device.cuh implements X with PTX, the replay with an emulation of the PTX ISA's documented semantics.
// Half-precision storage is raw 16-bit patterns (Bf16 / F16 below); arithmetic is f32.
#pragma once

#include <cstdint>
#include <type_traits>

#ifdef __CUDACC__
#define TP_BODY __device__ __forceinline__
#define TP_HD __host__ __device__ __forceinline__
#define TP_UNROLL _Pragma("unroll")
#else
#define TP_BODY inline
#define TP_HD inline
#define TP_UNROLL
#endif

namespace tidepool::cuda::tc {

// Storage tags for 16-bit floats: the bits as stored, and which mma.sync type they select.
struct Bf16 {
  uint16_t bits;
};
struct F16 {
  uint16_t bits;
};

// Element types a kernel may read or write, known at run time (launch-time dispatch to templates).
enum class Elem : int { F32 = 0, F16 = 1, BF16 = 2 };

// Byte offset of 16-byte chunk `chunk` of row `row` in a shared tile of `row_bytes`-byte rows
// (row_bytes a multiple of 128): chunk index XOR (row mod 8). The 8 rows one ldmatrix matrix reads, at
// the same logical chunk, land on 8 distinct 16-byte bank groups; the XOR stays inside each aligned
// group of 8 chunks, so every 128-byte half-row is a permutation of itself.
TP_HD uint32_t swizzled(int row, int chunk, int row_bytes) {
  return static_cast<uint32_t>(row * row_bytes + ((chunk ^ (row & 7)) << 4));
}

TP_HD int ceil_div(int a, int b) { return (a + b - 1) / b; }

}  // namespace tidepool::cuda::tc
