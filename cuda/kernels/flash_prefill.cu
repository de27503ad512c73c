// Flash-attention prefill on tensor cores over the paged bf16 KV pool: the block body and its tile shapes
// are flash_prefill_body.h (run on the host by the replay in cuda/test/replay); this file instantiates it
// for head_dim 64 and 128 and f32 / bf16 / f16 query and output rows, and launches it.

#include <cmath>

#include "common.cuh"
#include "flash_prefill_body.h"
#include "tc_device.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

// grid (ceil(T / tile_tokens), nk), block (Cfg::THREADS), Cfg::SMEM_BYTES of dynamic shared memory.
template <class Cfg, class QT, class OutT>
__global__ void __launch_bounds__(Cfg::THREADS) flash_prefill_kernel(const __grid_constant__ tc::FlashArgs f) {
  tc::DeviceExec x;
  tc::flash_block<Cfg, QT, OutT>(x, f);
}

// ---------------------------------------------------------------- launchers

namespace {

template <class Cfg, class QT, class OutT>
void launch_config(const tc::FlashArgs& f, int nk, cudaStream_t s) {
  const cudaError_t err = tc::raise_dynamic_smem_once<flash_prefill_kernel<Cfg, QT, OutT>>(Cfg::SMEM_BYTES);
  if (err != cudaSuccess) throw_cuda_error(__FILE__, __LINE__, "raising the dynamic shared memory limit", err);
  flash_prefill_kernel<Cfg, QT, OutT>
      <<<dim3(tc::ceil_div(f.T, f.tile_tokens), nk), Cfg::THREADS, Cfg::SMEM_BYTES, s>>>(f);
}

template <class Cfg, class QT>
void launch_out(const tc::FlashArgs& f, WeightType out_type, int nk, cudaStream_t s) {
  switch (out_type) {
    case WeightType::F32:
      launch_config<Cfg, QT, float>(f, nk, s);
      break;
    case WeightType::F16:
      launch_config<Cfg, QT, tc::F16>(f, nk, s);
      break;
    case WeightType::BF16:
      launch_config<Cfg, QT, tc::Bf16>(f, nk, s);
      break;
  }
}

template <class Cfg>
void launch_head_dim(const tc::FlashArgs& f, WeightType q_type, WeightType out_type, int nk, cudaStream_t s) {
  switch (q_type) {
    case WeightType::F32:
      launch_out<Cfg, float>(f, out_type, nk, s);
      break;
    case WeightType::F16:
      launch_out<Cfg, tc::F16>(f, out_type, nk, s);
      break;
    case WeightType::BF16:
      launch_out<Cfg, tc::Bf16>(f, out_type, nk, s);
      break;
  }
}

bool aligned16(const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; }

}  // namespace

bool flash_prefill_supported(int nq, int nk, int hd) {
  return (hd == 64 || hd == 128) && nk > 0 && nq % nk == 0 && nq / nk <= tc::FlashTile<64>::BM;
}

void launch_flash_prefill(const void* q, WeightType q_type, int q_ld, void* out, WeightType out_type, int out_ld,
                          const uint8_t* pool, int layer, const KvGeometry& g, const TokenTables& tt, int T, int nq,
                          int nk, int hd, cudaStream_t s) {
  KERNEL_ASSERT(q && out && pool && tt.pos && tt.table_offset && tt.n_pages && tt.pages && T >= 0 && layer >= 0);
  KERNEL_ASSERT(flash_prefill_supported(nq, nk, hd));
  KERNEL_ASSERT(q_ld >= nq * hd && q_ld % 8 == 0 && out_ld >= nq * hd && out_ld % 2 == 0 && aligned16(q) &&
                aligned16(out));
  KERNEL_ASSERT(g.kv_dim == nk * hd && g.row_bytes == static_cast<size_t>(g.kv_dim) * sizeof(kv_t) &&
                g.rows_per_page > 0);
  KERNEL_ASSERT(g.row_bytes % 16 == 0 && g.page_bytes % 16 == 0 && aligned16(pool));
  if (T == 0) return;
  tc::FlashArgs f;
  f.q = q;
  f.q_ld = q_ld;
  f.out = out;
  f.out_ld = out_ld;
  f.pool = pool;
  f.layer = layer;
  f.block_tokens = g.block_tokens;
  f.pages_per_block = g.pages_per_block;
  f.rows_per_page = g.rows_per_page;
  f.row_bytes = static_cast<long long>(g.row_bytes);
  f.page_bytes = static_cast<long long>(g.page_bytes);
  f.pos = tt.pos;
  f.table_offset = tt.table_offset;
  f.n_pages = tt.n_pages;
  f.pages = tt.pages;
  f.T = T;
  f.group = nq / nk;
  f.tile_tokens = tc::FlashTile<64>::BM / f.group;
  f.scale_log2 = static_cast<float>(1.4426950408889634 / std::sqrt(static_cast<double>(hd)));
  if (hd == 64) launch_head_dim<tc::FlashTile<64>>(f, q_type, out_type, nk, s);
  else launch_head_dim<tc::FlashTile<128>>(f, q_type, out_type, nk, s);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
