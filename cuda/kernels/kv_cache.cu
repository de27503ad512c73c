// The paged KV pool: writing K/V rows (f32 -> bf16) at each token's position (the forward pass writes
// them fused with RoPE, rope_kv.cu; this plain write fills pools in the kernel tests), and whole-page
// gather/scatter between the pool and a contiguous buffer (park / restore, bit-exact).

#include "kv_cache.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

// grid (T, 2): blockIdx.y 0 = K, 1 = V.
__global__ void kv_write_kernel(const float* k, const float* v, int layer, KvGeometry g, TokenTables tt,
                                uint8_t* pool) {
  const int t = blockIdx.x, which = blockIdx.y;
  kv_t* dst = kv_row(pool, g, tt, t, tt.pos[t], layer, which);  // (kv_dim)
  if (!dst) return;                                             // the host checks table lengths before launching
  const float* src = (which == 0 ? k : v) + static_cast<size_t>(t) * g.kv_dim;  // (kv_dim)
  for (int i = threadIdx.x; i < g.kv_dim; i += blockDim.x) dst[i] = from_f32<kv_t>(src[i]);
}

// grid (n pages, chunks); 16-byte copies (page_bytes % 16 == 0).
__global__ void gather_pages_kernel(const uint8_t* pool, const int32_t* pages, size_t page_bytes, uint8_t* out) {
  const uint4* src = reinterpret_cast<const uint4*>(pool + static_cast<size_t>(pages[blockIdx.x]) * page_bytes);
  uint4* dst = reinterpret_cast<uint4*>(out + static_cast<size_t>(blockIdx.x) * page_bytes);
  for (size_t i = blockIdx.y * blockDim.x + threadIdx.x; i < page_bytes / 16; i += gridDim.y * blockDim.x)
    dst[i] = src[i];
}

__global__ void scatter_pages_kernel(const uint8_t* in, const int32_t* pages, size_t page_bytes, uint8_t* pool) {
  const uint4* src = reinterpret_cast<const uint4*>(in + static_cast<size_t>(blockIdx.x) * page_bytes);
  uint4* dst = reinterpret_cast<uint4*>(pool + static_cast<size_t>(pages[blockIdx.x]) * page_bytes);
  for (size_t i = blockIdx.y * blockDim.x + threadIdx.x; i < page_bytes / 16; i += gridDim.y * blockDim.x)
    dst[i] = src[i];
}

// ---------------------------------------------------------------- launchers

void launch_kv_write(const float* k, const float* v, int T, int layer, const KvGeometry& g, const TokenTables& tt,
                     uint8_t* pool, cudaStream_t s) {
  KERNEL_ASSERT(k && v && pool && tt.pos && tt.pages && T >= 0 && layer >= 0);
  KERNEL_ASSERT(g.row_bytes == static_cast<size_t>(g.kv_dim) * sizeof(kv_t) && g.rows_per_page > 0);
  if (T == 0) return;
  kv_write_kernel<<<dim3(T, 2), 128, 0, s>>>(k, v, layer, g, tt, pool);
  LAUNCH_CHECK();
}

static dim3 page_grid(int n, size_t page_bytes) {
  const size_t vecs = page_bytes / 16;
  return dim3(n, static_cast<unsigned>(std::min<size_t>((vecs + 255) / 256, 16)));
}

void launch_gather_pages(const uint8_t* pool, const int32_t* pages, int n, size_t page_bytes, uint8_t* out,
                         cudaStream_t s) {
  KERNEL_ASSERT(pool && pages && out && n >= 0 && page_bytes % 16 == 0);
  if (n == 0) return;
  gather_pages_kernel<<<page_grid(n, page_bytes), 256, 0, s>>>(pool, pages, page_bytes, out);
  LAUNCH_CHECK();
}

void launch_scatter_pages(const uint8_t* in, const int32_t* pages, int n, size_t page_bytes, uint8_t* pool,
                          cudaStream_t s) {
  KERNEL_ASSERT(in && pages && pool && n >= 0 && page_bytes % 16 == 0);
  if (n == 0) return;
  scatter_pages_kernel<<<page_grid(n, page_bytes), 256, 0, s>>>(in, pages, page_bytes, pool);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
