// SwiGLU activation of the MLP: gate = silu(gate) * up, elementwise over (T, intermediate).

#include "common.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

__global__ void swiglu_kernel(float* gate, const float* up, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const float g = gate[i];
    gate[i] = g / (1.0f + expf(-g)) * up[i];
  }
}

// ---------------------------------------------------------------- launchers

void launch_swiglu(float* gate, const float* up, size_t n, cudaStream_t s) {
  KERNEL_ASSERT(gate && up);
  if (n == 0) return;
  const int blocks = static_cast<int>(std::min<size_t>((n + 255) / 256, 65535));
  swiglu_kernel<<<blocks, 256, 0, s>>>(gate, up, n);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
