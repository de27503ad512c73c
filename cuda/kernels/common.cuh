// Shared device helpers for every kernel file: error checks that name file and line, the stored weight
// dtypes (f32, f16, bf16) with 16-byte vector loads that widen to f32, the KV element type, and warp
// reductions. Arithmetic is always f32; only storage is half precision.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>

#include "kernels.h"

// Startup and test code: abort with the call, file and line.
#define CUDA_CHECK(call)                                                                                   \
  do {                                                                                                     \
    cudaError_t err_ = (call);                                                                             \
    if (err_ != cudaSuccess) {                                                                             \
      std::fprintf(stderr, "%s:%d: %s failed: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(err_)); \
      std::abort();                                                                                        \
    }                                                                                                      \
  } while (0)

// Launchers: report a failed launch to the caller (the backend turns it into an EngineError).
#define LAUNCH_CHECK() ::tidepool::cuda::check_launch(__FILE__, __LINE__)

#define KERNEL_ASSERT(cond)                                                      \
  do {                                                                           \
    if (!(cond)) ::tidepool::cuda::fail_precondition(__FILE__, __LINE__, #cond); \
  } while (0)

namespace tidepool::cuda {

// KV cache elements are bf16 (2 bytes): the range of f32 at half the bytes of the CPU backend's f32 KV.
using kv_t = __nv_bfloat16;

template <typename T>
struct WeightTraits;
template <>
struct WeightTraits<float> {
  static constexpr int kPerVec = 4;  // elements in one 16-byte load
  __device__ static float to_f32(float v) { return v; }
};
template <>
struct WeightTraits<__half> {
  static constexpr int kPerVec = 8;
  __device__ static float to_f32(__half v) { return __half2float(v); }
};
template <>
struct WeightTraits<__nv_bfloat16> {
  static constexpr int kPerVec = 8;
  __device__ static float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }
};

template <typename T>
__device__ __forceinline__ float load_f32(const T* p, size_t i) {
  return WeightTraits<T>::to_f32(p[i]);
}

template <typename T>
__device__ __forceinline__ T from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) {
  return v;
}
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) {
  return __float2half_rn(v);
}
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// One 16-byte read-only load widened to f32: 4 elements of f32 or 8 of f16/bf16. `p` is 16-byte aligned.
template <typename T>
__device__ __forceinline__ void load_vec_f32(const T* p, float* out);
template <>
__device__ __forceinline__ void load_vec_f32<float>(const float* p, float* out) {
  float4 v = __ldg(reinterpret_cast<const float4*>(p));
  out[0] = v.x;
  out[1] = v.y;
  out[2] = v.z;
  out[3] = v.w;
}
template <>
__device__ __forceinline__ void load_vec_f32<__half>(const __half* p, float* out) {
  uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
  const __half2* h = reinterpret_cast<const __half2*>(&v);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 f = __half22float2(h[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}
template <>
__device__ __forceinline__ void load_vec_f32<__nv_bfloat16>(const __nv_bfloat16* p, float* out) {
  uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
  const __nv_bfloat162* h = reinterpret_cast<const __nv_bfloat162*>(&v);
#pragma unroll
  for (int i = 0; i < 4; i++) {
    float2 f = __bfloat1622float2(h[i]);
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

__device__ __forceinline__ float warp_sum(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}
__device__ __forceinline__ float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets the total.
__device__ __forceinline__ float block_sum(float v) {
  __shared__ float partial[32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
  v = warp_sum(v);
  __syncthreads();  // partial may still be read by a previous call
  if (lane == 0) partial[warp] = v;
  __syncthreads();
  float total = lane < warps ? partial[lane] : 0.0f;
  return warp_sum(total);
}

inline void check_launch(const char* file, int line) {
  cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess) throw_cuda_error(file, line, "kernel launch", err);
  if (sync_launches() && (err = cudaDeviceSynchronize()) != cudaSuccess)
    throw_cuda_error(file, line, "kernel (synchronised)", err);
}

// Dispatches a runtime WeightType to a template functor call `f.template operator()<T>()`.
template <typename F>
void dispatch_weight(WeightType w, F&& f) {
  switch (w) {
    case WeightType::F32:
      f(float{});
      break;
    case WeightType::F16:
      f(__half{});
      break;
    case WeightType::BF16:
      f(__nv_bfloat16{});
      break;
  }
}

}  // namespace tidepool::cuda
