// Host replay of the tensor-core GEMM (cuda/kernels/gemm_tc_body.h, the body gemm_tc.cu launches): every
// tile configuration, both half types, f32 and half outputs, one to three fused weight segments with
// biases of each dtype, on odd shapes that leave partial tiles in M, N and K. Integer-valued inputs keep
// every f32 sum exact, so the result must equal a plain matmul bit for bit; outputs are poisoned first
// (every element must be written, and nothing past each segment's columns). The emulator also proves the
// cp.async pipeline race-free and counts shared-memory bank conflicts (the swizzle must leave none).
#include <cmath>

#include "../../kernels/gemm_tc_body.h"
#include "../../kernels/gemm_tc_pick.h"
#include "replay_support.h"

using namespace tidepool::replay;
namespace tc = tidepool::cuda::tc;

namespace {

Tally tally;

struct Shape {
  int M, K;
  std::vector<int> widths;     // columns per segment
  std::vector<tc::Elem> bias;  // per segment; F32/F16/BF16, or -1 cast for none
  std::vector<bool> has_bias;
};

template <class Cfg, class H, class OutT>
void replay(const char* cfg_name, const Shape& sh) {
  constexpr bool bf16 = std::is_same_v<H, Bf16>;
  constexpr bool out_f32 = std::is_same_v<OutT, float>;
  const int S = static_cast<int>(sh.widths.size()), lda = sh.K + 8;  // a padded row stride
  int N = 0;
  for (int w : sh.widths) N += w;
  HalfMatrix A = int_half_matrix(static_cast<size_t>(sh.M) * lda, -4, 4, bf16);
  std::vector<HalfMatrix> W;
  std::vector<std::vector<float>> bias_values(S);
  std::vector<std::vector<uint8_t>> bias_bytes(S);
  std::vector<std::vector<uint32_t>> out(S);  // 32-bit words; half outputs use the low halves' storage
  tc::GemmArgs g;
  g.a = A.bits.data();
  g.lda = lda;
  g.M = sh.M;
  g.N = N;
  g.K = sh.K;
  g.segments = S;
  Emulator em(Cfg::THREADS, Cfg::SMEM_BYTES);
  em.allow_global(A.bits.data(), A.bits.size() * 2);
  int n_end = 0;
  for (int s = 0; s < S; s++) {
    W.push_back(int_half_matrix(static_cast<size_t>(sh.widths[s]) * sh.K, -4, 4, bf16));
    em.allow_global(W[s].bits.data(), W[s].bits.size() * 2);
    tc::GemmSegment& seg = g.seg[s];
    seg.w = W[s].bits.data();
    n_end += sh.widths[s];
    seg.n_end = n_end;
    seg.ldy = sh.widths[s] + 8;  // columns past the segment must stay untouched
    const size_t out_bytes = static_cast<size_t>(sh.M) * seg.ldy * (out_f32 ? 4 : 2);
    out[s].assign((out_bytes + 3) / 4, out_f32 ? kPoison32 : (kPoison16 | kPoison16 << 16));
    seg.y = out[s].data();
    em.allow_global(out[s].data(), out_bytes);
    if (sh.has_bias[s]) {
      seg.bias_type = sh.bias[s];
      for (int i = 0; i < sh.widths[s]; i++) bias_values[s].push_back(static_cast<float>(rand_int(-50, 50)));
      const size_t width = seg.bias_type == tc::Elem::F32 ? 4 : 2;
      bias_bytes[s].resize(bias_values[s].size() * width);
      for (size_t i = 0; i < bias_values[s].size(); i++) {
        if (width == 4) std::memcpy(&bias_bytes[s][4 * i], &bias_values[s][i], 4);
        else {
          const uint16_t h = to_half_bits(bias_values[s][i], seg.bias_type == tc::Elem::BF16);
          std::memcpy(&bias_bytes[s][2 * i], &h, 2);
        }
      }
      seg.bias = bias_bytes[s].data();
    }
  }
  const bool ran = em.run(tc::ceil_div(N, Cfg::BN), tc::ceil_div(sh.M, Cfg::BM),
                          [&](HostExec& x) { tc::gemm_block<Cfg, H, OutT>(x, g); });

  long mismatches = 0;
  for (int s = 0; s < S && ran; s++) {
    const tc::GemmSegment& seg = g.seg[s];
    for (int m = 0; m < sh.M; m++)
      for (int j = 0; j < seg.ldy; j++) {
        uint32_t got, want;
        if (j < sh.widths[s]) {
          double acc = sh.has_bias[s] ? bias_values[s][j] : 0.0;
          for (int k = 0; k < sh.K; k++)
            acc += static_cast<double>(A.values[static_cast<size_t>(m) * lda + k]) *
                   W[s].values[static_cast<size_t>(j) * sh.K + k];
          want = out_f32 ? ptx::f32_bits(static_cast<float>(acc)) : to_half_bits(static_cast<float>(acc), bf16);
        } else {
          want = out_f32 ? kPoison32 : kPoison16;
        }
        const size_t at = static_cast<size_t>(m) * seg.ldy + j;
        if (out_f32) got = out[s][at];
        else got = reinterpret_cast<const uint16_t*>(out[s].data())[at];
        mismatches += got != want;
      }
  }
  std::string widths;
  for (int w : sh.widths) widths += (widths.empty() ? "" : "+") + std::to_string(w);
  std::string banks;
  const bool clean = ran && conflict_free(em.stats(), banks);
  char name[160];
  std::snprintf(name, sizeof name, "gemm %s %s->%s M=%d N=%s K=%d", cfg_name, bf16 ? "bf16" : "f16",
                out_f32 ? "f32" : (bf16 ? "bf16" : "f16"), sh.M, widths.c_str(), sh.K);
  tally.check(ran && mismatches == 0, std::string(name) + (ran ? " bit-exact" : ": " + em.error()) +
                                          (mismatches ? " (" + std::to_string(mismatches) + " wrong)" : ""));
  tally.check(clean, std::string("  race-free, no bank conflicts (") + banks + ")");
}

template <class Cfg>
void replay_config(const char* name, int M, int K, int n_single) {
  const Shape single{M, K, {n_single}, {tc::Elem::F32}, {false}};
  const Shape fused{M, K, {40, 24, 24}, {tc::Elem::BF16, tc::Elem::F32, tc::Elem::F16}, {true, true, false}};
  replay<Cfg, Bf16, float>(name, single);
  replay<Cfg, tc::F16, float>(name, single);
  replay<Cfg, Bf16, Bf16>(name, fused);
  replay<Cfg, tc::F16, tc::F16>(name, {M, K, {16, n_single - 16}, {tc::Elem::F16, tc::Elem::F16}, {true, false}});
}

// The launcher's choice for the Qwen2.5-7B projections on an H100 (132 SMs): printed for the docs, and
// checked for what must hold whatever the model (few rows -> the 64-row tile; a device that fits only the
// small tile gets it).
void pick_table() {
  const bool all[tc::kGemmTiles] = {true, true, true}, small_only[tc::kGemmTiles] = {true, false, false};
  const char* names[tc::kGemmTiles] = {"64x128", "128x128", "128x256"};
  const struct {
    const char* what;
    int n;
  } shapes[] = {{"qkv", 3584 + 2 * 512}, {"o", 3584}, {"gate+up", 2 * 18944}, {"down", 3584}};
  bool ok = true;
  for (int M : {33, 64, 128, 512, 1024, 2048, 8192}) {
    std::string line = "  tile picks at M=" + std::to_string(M) + ":";
    for (const auto& sh : shapes) {
      const tc::GemmTileId id = tc::pick_gemm_tile(M, sh.n, 132, all);
      line += std::string(" ") + sh.what + " " + names[static_cast<int>(id)];
      ok = ok && (M > 64 || id == tc::GemmTileId::Small) &&
           tc::pick_gemm_tile(M, sh.n, 132, small_only) == tc::GemmTileId::Small;
    }
    std::printf("%s\n", line.c_str());
  }
  tally.check(ok, "tile pick: 64-row tiles for M <= 64, only fitting configurations");
}

}  // namespace

int main() {
  pick_table();
  // Odd shapes: partial tiles in every dimension (K % 64 == 8: a last k tile of one chunk), rows past M,
  // columns past N, segments that start inside a block tile.
  // More k tiles than stages, so every stage is refilled while the others are read.
  replay_config<tc::GemmTileSmall>("64x128x64/4st", 67, 328, 136);
  replay_config<tc::GemmTileMedium>("128x128x64/3st", 131, 264, 144);
  replay_config<tc::GemmTileLarge>("128x256x64/3st", 130, 200, 264);
  replay<tc::GemmTileSmall, Bf16, float>("64x128x64/4st",
                                         {1, 8, {8}, {tc::Elem::F32}, {false}});  // one row, one k chunk
  // Odd segment widths: pairs straddle segments, odd row strides force single stores.
  replay<tc::GemmTileMedium, Bf16, Bf16>(
      "128x128x64/3st", {35, 136, {13, 7, 110}, {tc::Elem::BF16, tc::Elem::F32, tc::Elem::F16}, {true, true, true}});
  replay<tc::GemmTileSmall, tc::F16, float>("64x128x64/4st", {5, 72, {131}, {tc::Elem::F16}, {true}});
  return tally.exit_code();
}
