// Host replay of the flash-attention prefill body (cuda/kernels/flash_prefill_body.h, launched by
// flash_prefill.cu) on batches like the engine's: several sequences at different start positions (chunked
// prefill continuing from K/V already in the pool, a one-token entry), odd lengths, GQA ratios 1/2/7/8,
// head_dim 64 and 128, a KV pool whose pages are shuffled and whose rows are placed by the engine's own
// tidepool::KvLayout (make_kv_layout), Q read from a fused-QKV-like buffer and output rows padded.
//
// Exact mode: Q has three +-1 entries per head, K entries in {-1, 0, 1}, V integers in [-8, 8] and the
// score scale is 1 (log2 units), so every score is an integer in [-3, 3], every probability a power of two
// in [2^-6, 1] and every sum exact in f32: the output must equal a plain causal softmax attention computed
// in f64 bit for bit, in f32, bf16 and f16 outputs. Random mode: normal Q/K/V and the real 1/sqrt(d)
// scale, the f64 reference within a bf16 tolerance. The emulator also proves the K/V pipeline race-free, every
// access in bounds and the swizzled tiles free of bank conflicts.
#include <algorithm>
#include <cmath>

#include "../../backends/backend.h"
#include "../../kernels/flash_prefill_body.h"
#include "../../src/model_config.h"
#include "replay_support.h"

using namespace tidepool::replay;
namespace tc = tidepool::cuda::tc;

namespace {

Tally tally;

struct Entry {
  int start, n;  // positions start .. start + n - 1 are computed; 0 .. start - 1 are already in the pool
};
struct Case {
  int hd, nk, group, layers, layer, block_tokens, rows_per_page;
  std::vector<Entry> entries;
};

// One step's batch: the pool, the per-token tables as the backend uploads them, and the f32 values.
struct Batch {
  tidepool::KvLayout layout;
  std::vector<uint8_t> pool;
  std::vector<int32_t> pos, table_offset, n_pages, pages;
  std::vector<int> first;   // per token: row of its sequence's position 0 in k / v
  std::vector<float> k, v;  // (positions of every sequence, kv_dim), bf16-exact
  std::vector<uint8_t> q;   // (T, q_ld) in the Q type
  std::vector<float> qv;    // the same values as f32
  int T = 0, q_ld = 0, nq = 0;
};

int pages_for(const tidepool::KvLayout& l, int tokens) {
  return (tokens + l.block_tokens - 1) / l.block_tokens * l.pages_per_block;
}

uint16_t q_bits(float v, tc::Elem t) { return t == tc::Elem::F16 ? ptx::f32_to_f16(v) : ptx::f32_to_bf16(v); }

void fill_pool(Batch& b, const Case& c, bool exact) {
  const int kv_dim = c.nk * c.hd;
  int total_pages = 0;
  for (const Entry& e : c.entries) total_pages += pages_for(b.layout, e.start + e.n);
  std::vector<int32_t> perm(total_pages + 7);
  for (size_t i = 0; i < perm.size(); i++) perm[i] = static_cast<int32_t>(i);
  std::shuffle(perm.begin(), perm.end(), rng());
  b.pool.assign(perm.size() * b.layout.page_bytes, 0xFF);  // NaN bf16 wherever nothing is written
  std::normal_distribution<float> normal(0.0f, 1.0f);
  int used = 0;
  for (const Entry& e : c.entries) {
    const int len = e.start + e.n, n_pages = pages_for(b.layout, len), offset = static_cast<int>(b.pages.size());
    for (int i = 0; i < n_pages; i++) b.pages.push_back(perm[used++]);
    const int first = static_cast<int>(b.k.size()) / kv_dim;
    for (int p = 0; p < len; p++)
      for (int kv = 0; kv < 2; kv++)
        for (int d = 0; d < kv_dim; d++) {
          const float x = ptx::bf16_to_f32(ptx::f32_to_bf16(
              exact ? static_cast<float>(kv == 0 ? rand_int(-1, 1) : rand_int(-8, 8)) : normal(rng())));
          (kv == 0 ? b.k : b.v).push_back(x);
          const size_t page = b.pages[offset + b.layout.table_index(p, c.layer, kv)];
          const uint16_t h = ptx::f32_to_bf16(x);
          std::memcpy(&b.pool[page * b.layout.page_bytes + b.layout.row_offset(p, c.layer, kv) + 2 * d], &h, 2);
        }
    for (int p = e.start; p < len; p++) {
      b.pos.push_back(p);
      b.table_offset.push_back(offset);
      b.n_pages.push_back(n_pages);
      b.first.push_back(first);
    }
  }
}

Batch make_batch(const Case& c, bool exact, tc::Elem q_type) {
  Batch b;
  tidepool::ModelConfig cfg;
  cfg.num_layers = c.layers;
  cfg.num_kv_heads = c.nk;
  cfg.head_dim = c.hd;
  cfg.num_heads = c.nk * c.group;
  const size_t row_bytes = static_cast<size_t>(cfg.kv_dim()) * 2;
  b.layout = tidepool::make_kv_layout(cfg, c.block_tokens, row_bytes * c.rows_per_page + 48, 2);  // a ragged page tail
  b.nq = cfg.num_heads;
  fill_pool(b, c, exact);
  b.T = static_cast<int>(b.pos.size());
  b.q_ld = (b.nq + 2 * c.nk) * c.hd;  // Q, K, V of a fused projection side by side
  b.qv.assign(static_cast<size_t>(b.T) * b.q_ld, 0.0f);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int t = 0; t < b.T; t++)
    for (int h = 0; h < b.nq; h++) {
      float* row = &b.qv[static_cast<size_t>(t) * b.q_ld + h * c.hd];
      if (exact)
        for (int i = 0; i < 3; i++) row[rand_int(0, c.hd - 1)] = static_cast<float>(2 * rand_int(0, 1) - 1);
      else
        for (int d = 0; d < c.hd; d++) row[d] = normal(rng());
    }
  const size_t width = q_type == tc::Elem::F32 ? 4 : 2;
  b.q.resize(b.qv.size() * width);
  for (size_t i = 0; i < b.qv.size(); i++) {
    if (width == 4) std::memcpy(&b.q[4 * i], &b.qv[i], 4);
    else {
      const uint16_t h = q_bits(b.qv[i], q_type);
      std::memcpy(&b.q[2 * i], &h, 2);
      b.qv[i] = q_type == tc::Elem::F16 ? ptx::f16_to_f32(h) : ptx::bf16_to_f32(h);
    }
  }
  return b;
}

// Causal softmax attention in f64 for token t, query head h; scale in log2 units. Returns the unnormalised
// output acc[d] and the normaliser l (both exact in exact mode).
void reference(const Batch& b, const Case& c, int t, int h, double scale_log2, std::vector<double>& acc, double& l) {
  const int kvh = h / c.group, kv_dim = c.nk * c.hd;
  const float* q = &b.qv[static_cast<size_t>(t) * b.q_ld + h * c.hd];
  std::vector<double> s(b.pos[t] + 1);
  double m = -INFINITY;
  for (int j = 0; j <= b.pos[t]; j++) {
    double dot = 0;
    for (int d = 0; d < c.hd; d++)
      dot += static_cast<double>(ptx::bf16_to_f32(ptx::f32_to_bf16(q[d]))) *
             b.k[static_cast<size_t>(b.first[t] + j) * kv_dim + kvh * c.hd + d];
    s[j] = dot * scale_log2;
    m = std::max(m, s[j]);
  }
  acc.assign(c.hd, 0.0);
  l = 0;
  for (int j = 0; j <= b.pos[t]; j++) {
    const double p = std::exp2(s[j] - m);
    l += p;
    for (int d = 0; d < c.hd; d++) acc[d] += p * b.v[static_cast<size_t>(b.first[t] + j) * kv_dim + kvh * c.hd + d];
  }
}

template <int HD, class QT, class OutT>
void replay(const char* label, const Case& c, bool exact) {
  using Cfg = tc::FlashTile<HD>;
  constexpr bool out_f32 = std::is_same_v<OutT, float>, out_f16 = std::is_same_v<OutT, tc::F16>;
  const tc::Elem q_type = std::is_same_v<QT, float>  ? tc::Elem::F32
                          : std::is_same_v<QT, Bf16> ? tc::Elem::BF16
                                                     : tc::Elem::F16;
  Batch b = make_batch(c, exact, q_type);
  const int out_ld = b.nq * HD + 8;
  std::vector<uint32_t> out((static_cast<size_t>(b.T) * out_ld * (out_f32 ? 4 : 2) + 3) / 4,
                            out_f32 ? kPoison32 : (kPoison16 | kPoison16 << 16));
  tc::FlashArgs f;
  f.q = b.q.data();
  f.q_ld = b.q_ld;
  f.out = out.data();
  f.out_ld = out_ld;
  f.pool = b.pool.data();
  f.layer = c.layer;
  f.block_tokens = b.layout.block_tokens;
  f.pages_per_block = b.layout.pages_per_block;
  f.rows_per_page = b.layout.rows_per_page;
  f.row_bytes = static_cast<long long>(b.layout.row_bytes);
  f.page_bytes = static_cast<long long>(b.layout.page_bytes);
  f.pos = b.pos.data();
  f.table_offset = b.table_offset.data();
  f.n_pages = b.n_pages.data();
  f.pages = b.pages.data();
  f.T = b.T;
  f.group = c.group;
  f.tile_tokens = Cfg::BM / c.group;
  f.scale_log2 = exact ? 1.0f : static_cast<float>(1.0 / std::sqrt(static_cast<double>(HD)) / std::log(2.0));
  Emulator em(Cfg::THREADS, Cfg::SMEM_BYTES);
  em.allow_global(b.q.data(), b.q.size());
  em.allow_global(b.pool.data(), b.pool.size());
  em.allow_global(out.data(), out.size() * 4);
  const bool ran =
      em.run(tc::ceil_div(b.T, f.tile_tokens), c.nk, [&](HostExec& x) { tc::flash_block<Cfg, QT, OutT>(x, f); });

  long mismatches = 0;
  double err = 0, norm = 0;
  std::vector<double> acc;
  double l = 0;
  for (int t = 0; t < b.T && ran; t++)
    for (int col = 0; col < out_ld; col++) {
      const size_t at = static_cast<size_t>(t) * out_ld + col;
      const uint32_t got = out_f32 ? out[at] : reinterpret_cast<const uint16_t*>(out.data())[at];
      const float got_f = out_f32   ? ptx::bits_f32(got)
                          : out_f16 ? ptx::f16_to_f32(static_cast<uint16_t>(got))
                                    : ptx::bf16_to_f32(static_cast<uint16_t>(got));
      if (col >= b.nq * HD) {
        mismatches += got != (out_f32 ? kPoison32 : kPoison16);
        continue;
      }
      if (col % HD == 0) reference(b, c, t, col / HD, f.scale_log2, acc, l);
      const float want_f32 =
          static_cast<float>(acc[col % HD]) * (1.0f / static_cast<float>(l));  // the kernel's epilogue
      if (exact) {
        const uint32_t want = out_f32   ? ptx::f32_bits(want_f32)
                              : out_f16 ? ptx::f32_to_f16(want_f32)
                                        : ptx::f32_to_bf16(want_f32);
        mismatches += got != want;
      } else {
        const double ref = acc[col % HD] / l;
        mismatches += !std::isfinite(got_f);
        err += (got_f - ref) * (got_f - ref);
        norm += ref * ref;
      }
    }
  const double rel = norm > 0 ? std::sqrt(err / norm) : 0.0;
  std::string banks;
  const bool clean = ran && conflict_free(em.stats(), banks);
  char name[200];
  std::snprintf(name, sizeof name, "flash %s hd=%d group=%d q=%s out=%s T=%d %s", label, HD, c.group,
                q_type == tc::Elem::F32    ? "f32"
                : q_type == tc::Elem::BF16 ? "bf16"
                                           : "f16",
                out_f32   ? "f32"
                : out_f16 ? "f16"
                          : "bf16",
                b.T, exact ? "bit-exact" : "");
  std::string verdict = ran ? "" : std::string(": ") + em.error();
  if (mismatches) verdict += " (" + std::to_string(mismatches) + " wrong)";
  if (!exact) {
    char r[48];
    std::snprintf(r, sizeof r, "rel %.1e (tol 1e-2)", rel);
    verdict += r;
  }
  tally.check(ran && mismatches == 0 && rel <= 1e-2, std::string(name) + verdict);
  tally.check(clean, "  race-free, in bounds, no bank conflicts (" + banks + ")");
}

}  // namespace

int main() {
  // Engine-like steps: a prompt from position 0, a chunk continuing a sequence whose first positions are
  // in the pool, a one-token entry, lengths that leave partial query and K/V tiles.
  const std::vector<Entry> mixed = {{0, 37}, {50, 29}, {0, 1}};
  const Case qwen7b{128, 2, 7, 3, 1, 16, 5, mixed};                      // 7 query heads per KV head
  const Case mha{64, 2, 1, 2, 1, 16, 3, {{0, 130}, {3, 5}}};             // ratio 1, several K/V tiles
  const Case ratio8{128, 2, 8, 2, 0, 5, 7, {{100, 20}, {0, 64}}};        // ratio 8, odd block_tokens
  const Case ratio2{64, 1, 2, 4, 3, 16, 4, {{33, 37}, {0, 2}, {7, 1}}};  // ratio 2, chunked prefill
  replay<128, float, float>("qwen-7b-like", qwen7b, true);
  replay<128, Bf16, Bf16>("qwen-7b-like", qwen7b, true);
  replay<64, float, float>("mha", mha, true);
  replay<128, tc::F16, float>("ratio-8", ratio8, true);
  replay<64, Bf16, float>("ratio-2 chunk", ratio2, true);
  replay<64, tc::F16, tc::F16>("ratio-2 chunk", ratio2, true);
  replay<128, float, float>("qwen-7b-like", qwen7b, false);
  replay<64, float, float>("mha", mha, false);
  return tally.exit_code();
}
