// Residual add: x += h, elementwise over the (T, hidden) stream.

#include "common.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

__global__ void residual_add_kernel(float* x, const float* h, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    x[i] += h[i];
}

// ---------------------------------------------------------------- launchers

void launch_residual_add(float* x, const float* h, size_t n, cudaStream_t s) {
  KERNEL_ASSERT(x && h);
  if (n == 0) return;
  const int blocks = static_cast<int>(std::min<size_t>((n + 255) / 256, 65535));
  residual_add_kernel<<<blocks, 256, 0, s>>>(x, h, n);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
