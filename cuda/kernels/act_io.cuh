// Four-element loads and stores for the fused small ops: weights and tables in any stored dtype (chosen
// at run time, so one kernel serves every model), activations in the model's activation dtype A (a
// template parameter: float, __half or __nv_bfloat16). Four elements are 16 bytes of f32 or 8 of a half
// type; callers keep element indices multiples of 4 and rows 16-byte aligned.
#pragma once

#include "common.cuh"

namespace tidepool::cuda {

__device__ __forceinline__ float4 load4_weight(const void* p, WeightType w, size_t i) {
  if (w == WeightType::F32) return __ldg(reinterpret_cast<const float4*>(static_cast<const float*>(p) + i));
  const uint2 raw = __ldg(reinterpret_cast<const uint2*>(static_cast<const uint16_t*>(p) + i));
  float2 lo, hi;
  if (w == WeightType::F16) {
    lo = __half22float2(*reinterpret_cast<const __half2*>(&raw.x));
    hi = __half22float2(*reinterpret_cast<const __half2*>(&raw.y));
  } else {
    lo = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw.x));
    hi = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&raw.y));
  }
  return make_float4(lo.x, lo.y, hi.x, hi.y);
}

template <typename A>
__device__ __forceinline__ void store4(A* p, size_t i, float4 v);
template <>
__device__ __forceinline__ void store4<float>(float* p, size_t i, float4 v) {
  *reinterpret_cast<float4*>(p + i) = v;
}
template <>
__device__ __forceinline__ void store4<__half>(__half* p, size_t i, float4 v) {
  const __half2 lo = __floats2half2_rn(v.x, v.y), hi = __floats2half2_rn(v.z, v.w);
  uint2 raw;
  raw.x = *reinterpret_cast<const uint32_t*>(&lo);
  raw.y = *reinterpret_cast<const uint32_t*>(&hi);
  *reinterpret_cast<uint2*>(p + i) = raw;
}
template <>
__device__ __forceinline__ void store4<__nv_bfloat16>(__nv_bfloat16* p, size_t i, float4 v) {
  const __nv_bfloat162 lo = __floats2bfloat162_rn(v.x, v.y), hi = __floats2bfloat162_rn(v.z, v.w);
  uint2 raw;
  raw.x = *reinterpret_cast<const uint32_t*>(&lo);
  raw.y = *reinterpret_cast<const uint32_t*>(&hi);
  *reinterpret_cast<uint2*>(p + i) = raw;
}

template <typename A>
__device__ __forceinline__ float4 load4_act(const A* p, size_t i);
template <>
__device__ __forceinline__ float4 load4_act<float>(const float* p, size_t i) {
  return *reinterpret_cast<const float4*>(p + i);
}
template <>
__device__ __forceinline__ float4 load4_act<__half>(const __half* p, size_t i) {
  return load4_weight(p, WeightType::F16, i);
}
template <>
__device__ __forceinline__ float4 load4_act<__nv_bfloat16>(const __nv_bfloat16* p, size_t i) {
  return load4_weight(p, WeightType::BF16, i);
}

// The activation dtype's C++ type for a run-time WeightType: f(A{}) with A = float, __half or __nv_bfloat16.
template <typename F>
void dispatch_act(WeightType act, F&& f) {
  dispatch_weight(act, static_cast<F&&>(f));
}

}  // namespace tidepool::cuda
