// Rotary position embedding, Hugging Face "rotate_half" convention: dimension i pairs with i + hd/2.
// Angles are f32 (pos * inv_freq[i], inv_freq computed on the host exactly as the CPU backend does) and
// their cosine and sine are taken in f64, as the CPU backend takes them, so both agree to rounding.

#include "common.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

// grid (T), threads over (heads, hd/2) pairs of q then k.
__global__ void rope_kernel(float* q, float* k, const int32_t* pos, const float* inv_freq, int nq, int nk, int hd) {
  const int t = blockIdx.x, half = hd / 2;
  const float p = static_cast<float>(pos[t]);
  float* qt = q + static_cast<size_t>(t) * nq * hd;  // (nq, hd)
  float* kt = k + static_cast<size_t>(t) * nk * hd;  // (nk, hd)
  for (int item = threadIdx.x; item < (nq + nk) * half; item += blockDim.x) {
    const int head = item / half, i = item % half;
    float* v = head < nq ? qt + head * hd : kt + (head - nq) * hd;
    const float angle = p * inv_freq[i];
    double sd, cd;
    sincos(static_cast<double>(angle), &sd, &cd);
    const float c = static_cast<float>(cd), sn = static_cast<float>(sd);
    const float a = v[i], b = v[i + half];
    v[i] = a * c - b * sn;
    v[i + half] = b * c + a * sn;
  }
}

// ---------------------------------------------------------------- launchers

void launch_rope(float* q, float* k, const int32_t* pos, const float* inv_freq, int T, int nq, int nk, int hd,
                 cudaStream_t s) {
  KERNEL_ASSERT(q && k && pos && inv_freq && T >= 0 && nq > 0 && nk > 0 && hd > 0 && hd % 2 == 0);
  if (T == 0) return;
  rope_kernel<<<T, 256, 0, s>>>(q, k, pos, inv_freq, nq, nk, hd);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
