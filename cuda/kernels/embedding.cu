// Embedding gather: one block per token copies its table row, widening the stored dtype to f32.

#include "common.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

template <typename T>
__global__ void embedding_kernel(const T* table, const int32_t* tokens, int H, float* out) {
  const int t = blockIdx.x;
  const T* row = table + static_cast<size_t>(tokens[t]) * H;  // (H)
  float* dst = out + static_cast<size_t>(t) * H;              // (H)
  for (int i = threadIdx.x; i < H; i += blockDim.x) dst[i] = load_f32(row, i);
}

// ---------------------------------------------------------------- launchers

void launch_embedding(const void* table, WeightType w, const int32_t* tokens, int T, int H, float* out, cudaStream_t s) {
  KERNEL_ASSERT(table && tokens && out && T >= 0 && H > 0);
  if (T == 0) return;
  dispatch_weight(w, [&](auto tag) {
    using W = decltype(tag);
    embedding_kernel<W><<<T, 256, 0, s>>>(static_cast<const W*>(table), tokens, H, out);
  });
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
