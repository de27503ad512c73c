// Which GEMM tile configuration (gemm_tc_body.h) a launch of M x N outputs uses. A model, not a
// measurement: an SM works through ceil(blocks / SMs) tiles (tile quantisation), and a tile costs its area
// times the shared-memory traffic of its warp tile relative to the tensor cores' appetite (H100: one
// m16n8k16 per SM per clock against 128 bytes of shared memory per clock, so a 64x64 warp tile (128
// bytes of ldmatrix per mma) keeps up and a 32x64 one (192 bytes) reaches 2/3 of it). Ties go to the
// larger tile (fewer blocks re-reading the same rows from L2). Configurations that do not fit the device's
// shared memory are skipped.
#pragma once

#include "gemm_tc_body.h"

namespace tidepool::cuda::tc {

enum class GemmTileId { Small = 0, Medium = 1, Large = 2 };
constexpr int kGemmTiles = 3;

template <class Cfg>
constexpr double gemm_tile_cost_factor() {
  const double bytes_per_mma = (Cfg::MI * 16.0 * 16 * 2 + Cfg::NI * 8.0 * 16 * 2) / (Cfg::MI * Cfg::NI);
  return bytes_per_mma > 128.0 ? bytes_per_mma / 128.0 : 1.0;
}

struct GemmTileShape {
  int bm, bn;
  double factor;
};
constexpr GemmTileShape kGemmTileShapes[kGemmTiles] = {
    {GemmTileSmall::BM, GemmTileSmall::BN, gemm_tile_cost_factor<GemmTileSmall>()},
    {GemmTileMedium::BM, GemmTileMedium::BN, gemm_tile_cost_factor<GemmTileMedium>()},
    {GemmTileLarge::BM, GemmTileLarge::BN, gemm_tile_cost_factor<GemmTileLarge>()},
};

// fits[i]: configuration i can be launched on this device (its shared memory fits).
inline GemmTileId pick_gemm_tile(int M, int N, int sms, const bool (&fits)[kGemmTiles]) {
  int best = 0;
  double best_cost = -1.0;
  for (int i = 0; i < kGemmTiles; i++) {
    if (!fits[i]) continue;
    const GemmTileShape& t = kGemmTileShapes[i];
    const long blocks = static_cast<long>(ceil_div(M, t.bm)) * ceil_div(N, t.bn);
    const double cost = static_cast<double>((blocks + sms - 1) / sms) * t.bm * t.bn * t.factor;
    if (best_cost < 0 || cost <= best_cost) {
      best = i;
      best_cost = cost;
    }
  }
  return static_cast<GemmTileId>(best);
}

}  // namespace tidepool::cuda::tc
