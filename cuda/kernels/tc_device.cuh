// The GPU executor for the kernel bodies of simt.h: one thread's ids, the block's dynamic shared memory as
// byte offsets, and the PTX each operation stands for (cp.async.cg, cp.async.commit/wait_group,
// bar.sync, ldmatrix.x4 (.trans), mma.sync.m16n8k16 f32 += bf16/f16, shfl.xor, ex2.approx). The host replay
// (cuda/test/replay/simt_emulator.h) implements the same interface.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <mutex>

#include "simt.h"

namespace tidepool::cuda::tc {

struct DeviceExec {
  uint32_t smem;  // shared-window address of the block's dynamic shared memory

  __device__ static uint32_t dynamic_smem() {
    extern __shared__ __align__(128) uint8_t tc_dynamic_smem[];
    return static_cast<uint32_t>(__cvta_generic_to_shared(tc_dynamic_smem));
  }
  __device__ DeviceExec() : smem(dynamic_smem()) {}

  __device__ __forceinline__ int tid() const { return static_cast<int>(threadIdx.x); }
  __device__ __forceinline__ int block_x() const { return static_cast<int>(blockIdx.x); }
  __device__ __forceinline__ int block_y() const { return static_cast<int>(blockIdx.y); }
  __device__ __forceinline__ int grid_x() const { return static_cast<int>(gridDim.x); }

  // 16 bytes global -> shared; `valid` false zero-fills (src is then never read).
  __device__ __forceinline__ void cp_async16(uint32_t off, const void* src, bool valid) {
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem + off), "l"(src), "r"(valid ? 16 : 0));
  }
  __device__ __forceinline__ void cp_commit() { asm volatile("cp.async.commit_group;\n" ::); }
  template <int N>
  __device__ __forceinline__ void cp_wait() {
    asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
  }
  __device__ __forceinline__ void sync() { __syncthreads(); }

  __device__ __forceinline__ void st_shared16(uint32_t off, const uint32_t (&v)[4]) {
    asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};\n" ::"r"(smem + off), "r"(v[0]), "r"(v[1]), "r"(v[2]),
                 "r"(v[3]));
  }
  __device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], uint32_t off) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem + off));
  }
  __device__ __forceinline__ void ldsm_x4_t(uint32_t (&r)[4], uint32_t off) {
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(smem + off));
  }

  template <class H>
  __device__ __forceinline__ void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    if constexpr (std::is_same_v<H, Bf16>)
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
          : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
    else
      asm volatile(
          "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
          : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
          : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }

  __device__ __forceinline__ float shfl_xor(float v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }
  __device__ __forceinline__ float exp2(float v) {
    float r;
    asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(r) : "f"(v));
    return r;
  }

  __device__ __forceinline__ void ld_global16(const void* p, uint32_t (&v)[4]) {
    const uint4 t = __ldg(static_cast<const uint4*>(p));
    v[0] = t.x;
    v[1] = t.y;
    v[2] = t.z;
    v[3] = t.w;
  }
  __device__ __forceinline__ void st_f32x2(float* p, float a, float b) {
    *reinterpret_cast<float2*>(p) = make_float2(a, b);
  }
  __device__ __forceinline__ void st_u32(void* p, uint32_t v) { *static_cast<uint32_t*>(p) = v; }
  __device__ __forceinline__ void st_f32(float* p, float v) { *p = v; }
  __device__ __forceinline__ void st_u16(void* p, uint16_t v) { *static_cast<uint16_t*>(p) = v; }

  __device__ __forceinline__ float as_f32(uint32_t bits) const { return __uint_as_float(bits); }
  __device__ __forceinline__ float to_f32(Bf16 h) const { return __bfloat162float(__ushort_as_bfloat16(h.bits)); }
  __device__ __forceinline__ float to_f32(F16 h) const { return __half2float(__ushort_as_half(h.bits)); }
  // (lo, hi) rounded to nearest even, lo in the low 16 bits (the element with the lower index).
  template <class H>
  __device__ __forceinline__ uint32_t pack(float lo, float hi) const {
    if constexpr (std::is_same_v<H, Bf16>) {
      const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
      return *reinterpret_cast<const uint32_t*>(&v);
    } else {
      const __half2 v = __floats2half2_rn(lo, hi);
      return *reinterpret_cast<const uint32_t*>(&v);
    }
  }
};

// Lets `kernel` use `bytes` of dynamic shared memory (above 48 KiB this needs an explicit opt-in). Called on
// a kernel's first launch, which may happen while a decode graph is being captured on this thread, so the
// call runs in relaxed capture mode and cannot invalidate that capture.
template <class Kernel>
cudaError_t raise_dynamic_smem(Kernel kernel, int bytes) {
  cudaStreamCaptureMode mode = cudaStreamCaptureModeRelaxed;
  cudaError_t err = cudaThreadExchangeStreamCaptureMode(&mode);
  if (err != cudaSuccess) return err;
  err = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  const cudaError_t restored = cudaThreadExchangeStreamCaptureMode(&mode);
  return err != cudaSuccess ? err : restored;
}

// raise_dynamic_smem once per device for each kernel.
template <auto kernel>
cudaError_t raise_dynamic_smem_once(int bytes) {
  static std::mutex mu;
  static uint64_t done = 0;  // bit d: device d
  int dev = 0;
  cudaError_t err = cudaGetDevice(&dev);
  if (err != cudaSuccess || dev >= 64) return err != cudaSuccess ? err : cudaErrorInvalidDevice;
  std::lock_guard<std::mutex> lock(mu);
  if (done >> dev & 1) return cudaSuccess;
  err = raise_dynamic_smem(kernel, bytes);
  if (err == cudaSuccess) done |= uint64_t{1} << dev;
  return err;
}

}  // namespace tidepool::cuda::tc
