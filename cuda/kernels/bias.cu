// Bias add for the Qwen2 QKV projections: y (T, N) += bias (N), the bias in its stored dtype.

#include "common.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

template <typename W>
__global__ void bias_add_kernel(float* y, const W* bias, int N, size_t n) {
  for (size_t i = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<size_t>(gridDim.x) * blockDim.x)
    y[i] += load_f32(bias, i % N);
}

// ---------------------------------------------------------------- launchers

void launch_bias_add(float* y, const void* bias, WeightType w, int T, int N, cudaStream_t s) {
  KERNEL_ASSERT(y && bias && T >= 0 && N > 0);
  const size_t n = static_cast<size_t>(T) * N;
  if (n == 0) return;
  const int blocks = static_cast<int>(std::min<size_t>((n + 255) / 256, 65535));
  dispatch_weight(w, [&](auto tag) {
    using W = decltype(tag);
    bias_add_kernel<W><<<blocks, 256, 0, s>>>(y, static_cast<const W*>(bias), N, n);
  });
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
