// RMSNorm: one block per row, f32 sum of squares, optional row gather (the final norm runs only on the
// rows whose logits are wanted).

#include "common.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

template <typename W>
__global__ void rmsnorm_kernel(const float* x, const int32_t* rows, int H, const W* weight, float eps, float* out) {
  const int r = blockIdx.x;
  const float* src = x + static_cast<size_t>(rows ? rows[r] : r) * H;  // (H)
  float* dst = out + static_cast<size_t>(r) * H;                       // (H)
  float ss = 0.0f;
  for (int i = threadIdx.x; i < H; i += blockDim.x) ss += src[i] * src[i];
  const float inv = rsqrtf(block_sum(ss) / H + eps);
  for (int i = threadIdx.x; i < H; i += blockDim.x) dst[i] = load_f32(weight, i) * (src[i] * inv);
}

// ---------------------------------------------------------------- launchers

void launch_rmsnorm(const float* x, const int32_t* rows, int R, int H, const void* weight, WeightType w, float eps,
                    float* out, cudaStream_t s) {
  KERNEL_ASSERT(x && weight && out && R >= 0 && H > 0);
  KERNEL_ASSERT(rows == nullptr || out != x);
  if (R == 0) return;
  dispatch_weight(w, [&](auto tag) {
    using W = decltype(tag);
    rmsnorm_kernel<W><<<R, 256, 0, s>>>(x, rows, H, static_cast<const W*>(weight), eps, out);
  });
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
