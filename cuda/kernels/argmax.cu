// Greedy sampling on the device: argmax of each logits row, ties to the lowest index. The step loop
// samples on the host from f32 logits; this kernel serves the benchmark and a future on-device sampler.

#include "common.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

// grid (R), block (256).
__global__ void argmax_kernel(const float* logits, int V, int32_t* out) {
  __shared__ float s_val[256];
  __shared__ int s_idx[256];
  const float* row = logits + static_cast<size_t>(blockIdx.x) * V;  // (V)
  float best = -INFINITY;
  int best_i = V;
  for (int i = threadIdx.x; i < V; i += blockDim.x)
    if (row[i] > best) {
      best = row[i];
      best_i = i;
    }  // strided ascending: the first max per thread wins
  s_val[threadIdx.x] = best;
  s_idx[threadIdx.x] = best_i;
  __syncthreads();
  for (int stride = blockDim.x / 2; stride > 0; stride /= 2) {
    if (threadIdx.x < stride) {
      const float v = s_val[threadIdx.x + stride];
      const int i = s_idx[threadIdx.x + stride];
      if (v > s_val[threadIdx.x] || (v == s_val[threadIdx.x] && i < s_idx[threadIdx.x])) {
        s_val[threadIdx.x] = v;
        s_idx[threadIdx.x] = i;
      }
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) out[blockIdx.x] = s_idx[0] < V ? s_idx[0] : 0;
}

// ---------------------------------------------------------------- launchers

void launch_argmax(const float* logits, int R, int V, int32_t* out, cudaStream_t s) {
  KERNEL_ASSERT(logits && out && R >= 0 && V > 0);
  if (R == 0) return;
  argmax_kernel<<<R, 256, 0, s>>>(logits, V, out);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
