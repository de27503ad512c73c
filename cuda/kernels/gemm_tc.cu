// Tensor-core GEMM for prefill: Y (M, N) = A (M, K) · W^T (+ bias), A the activations in the weights' half
// type, W (N, K) weights as stored (f16 or bf16), f32 accumulation, f32 or half output; up to three weight
// tensors side by side in one launch (fused Q/K/V, gate/up), each with its own bias and output.
//
// The block body, its tile configurations (64x128, 128x128, 128x256; 64-deep k tiles, 3-4 stage cp.async
// pipelines, XOR-swizzled shared rows, ldmatrix, mma.sync m16n8k16) live in gemm_tc_body.h, which the host
// replay (cuda/test/replay) runs on an emulator of the PTX ISA; which configuration a launch uses is
// gemm_tc_pick.h's choice.

#include "common.cuh"
#include "gemm_tc_body.h"
#include "gemm_tc_pick.h"
#include "tc_device.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

template <typename T>
__global__ void cast_half_kernel(const float* x, T* out, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<size_t>(gridDim.x) * blockDim.x)
    out[i] = from_f32<T>(x[i]);
}

// grid (ceil(N / BN), ceil(M / BM)), block (Cfg::THREADS), Cfg::SMEM_BYTES of dynamic shared memory.
template <class Cfg, class H, class OutT>
__global__ void __launch_bounds__(Cfg::THREADS) gemm_tc_kernel(const __grid_constant__ tc::GemmArgs g) {
  tc::DeviceExec x;
  tc::gemm_block<Cfg, H, OutT>(x, g);
}

// ---------------------------------------------------------------- launchers

namespace {

struct DeviceFacts {
  int sms = 0;
  int smem_optin = 0;  // bytes of dynamic shared memory one block may opt into
};

DeviceFacts device_facts() {
  static std::mutex mu;
  static DeviceFacts facts[64];
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64)
    throw_cuda_error(__FILE__, __LINE__, "cudaGetDevice", cudaGetLastError());
  std::lock_guard<std::mutex> lock(mu);
  if (facts[dev].sms == 0) {
    cudaError_t err = cudaDeviceGetAttribute(&facts[dev].sms, cudaDevAttrMultiProcessorCount, dev);
    if (err == cudaSuccess)
      err = cudaDeviceGetAttribute(&facts[dev].smem_optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
    if (err != cudaSuccess) throw_cuda_error(__FILE__, __LINE__, "cudaDeviceGetAttribute", err);
  }
  return facts[dev];
}

template <class Cfg, class H, class OutT>
void launch_config(const tc::GemmArgs& g, cudaStream_t s) {
  const cudaError_t err = tc::raise_dynamic_smem_once<gemm_tc_kernel<Cfg, H, OutT>>(Cfg::SMEM_BYTES);
  if (err != cudaSuccess) throw_cuda_error(__FILE__, __LINE__, "raising the dynamic shared memory limit", err);
  const dim3 grid(tc::ceil_div(g.N, Cfg::BN), tc::ceil_div(g.M, Cfg::BM));
  gemm_tc_kernel<Cfg, H, OutT><<<grid, Cfg::THREADS, Cfg::SMEM_BYTES, s>>>(g);
}

template <class H, class OutT>
void launch_typed(const tc::GemmArgs& g, cudaStream_t s) {
  const DeviceFacts d = device_facts();
  const bool fits[tc::kGemmTiles] = {tc::GemmTileSmall::SMEM_BYTES <= d.smem_optin,
                                     tc::GemmTileMedium::SMEM_BYTES <= d.smem_optin,
                                     tc::GemmTileLarge::SMEM_BYTES <= d.smem_optin};
  KERNEL_ASSERT(fits[0]);
  switch (tc::pick_gemm_tile(g.M, g.N, d.sms, fits)) {
    case tc::GemmTileId::Small:
      launch_config<tc::GemmTileSmall, H, OutT>(g, s);
      break;
    case tc::GemmTileId::Medium:
      launch_config<tc::GemmTileMedium, H, OutT>(g, s);
      break;
    case tc::GemmTileId::Large:
      launch_config<tc::GemmTileLarge, H, OutT>(g, s);
      break;
  }
}

tc::Elem elem_of(WeightType t) {
  return t == WeightType::F32 ? tc::Elem::F32 : t == WeightType::F16 ? tc::Elem::F16 : tc::Elem::BF16;
}

bool aligned(const void* p, size_t bytes) { return reinterpret_cast<uintptr_t>(p) % bytes == 0; }

}  // namespace

void launch_cast_half(const float* x, void* out, WeightType w, size_t n, cudaStream_t s) {
  KERNEL_ASSERT(x && out && w != WeightType::F32);
  if (n == 0) return;
  const int blocks = static_cast<int>(std::min<size_t>((n + 255) / 256, 65535));
  if (w == WeightType::F16) cast_half_kernel<__half><<<blocks, 256, 0, s>>>(x, static_cast<__half*>(out), n);
  else cast_half_kernel<__nv_bfloat16><<<blocks, 256, 0, s>>>(x, static_cast<__nv_bfloat16*>(out), n);
  LAUNCH_CHECK();
}

void launch_gemm_fused(const void* A, int lda, WeightType w, const LinearSegment* segs, int count, int M, int K,
                       WeightType out_type, cudaStream_t s) {
  KERNEL_ASSERT(A && segs && count >= 1 && count <= tc::kMaxGemmSegments && M >= 0 && K > 0 && w != WeightType::F32);
  KERNEL_ASSERT(K % 8 == 0 && lda >= K && lda % 8 == 0 && aligned(A, 16));
  KERNEL_ASSERT(out_type == WeightType::F32 || out_type == w);
  tc::GemmArgs g;
  g.a = A;
  g.lda = lda;
  g.M = M;
  g.K = K;
  g.segments = count;
  for (int i = 0; i < count; i++) {
    const LinearSegment& in = segs[i];
    KERNEL_ASSERT(in.weight && aligned(in.weight, 16) && in.n > 0 && in.out && in.ld_out >= in.n);
    KERNEL_ASSERT(aligned(in.out, weight_type_bytes(out_type)));
    g.N += in.n;
    g.seg[i] = tc::GemmSegment{in.weight, in.bias, elem_of(in.bias_type), g.N, in.out, in.ld_out};
  }
  if (M == 0) return;
  const bool f32_out = out_type == WeightType::F32;
  if (w == WeightType::F16) {
    if (f32_out) launch_typed<tc::F16, float>(g, s);
    else launch_typed<tc::F16, tc::F16>(g, s);
  } else {
    if (f32_out) launch_typed<tc::Bf16, float>(g, s);
    else launch_typed<tc::Bf16, tc::Bf16>(g, s);
  }
  LAUNCH_CHECK();
}

void launch_gemm_tc(const void* A, const void* W, WeightType w, float* Y, int M, int N, int K, cudaStream_t s) {
  const LinearSegment seg{W, N, nullptr, WeightType::F32, Y, N};
  launch_gemm_fused(A, K, w, &seg, 1, M, K, WeightType::F32, s);
}

}  // namespace tidepool::cuda
