// decode_kernels_test, the kernels that touch the paged KV pool: bias + RoPE + KV write, and paged
// attention with q and its output in a half activation dtype.
#include <algorithm>

#include "kernel_test_support.cuh"

using namespace tidepool::cuda;
using namespace tidepool::cuda::test;

namespace {

// A pool with one sequence per token slot set: token t is at position pos[t] of a sequence whose block
// table is a random slice of page ids. Host copies of everything for the reference.
struct PagedPool {
  KvGeometry g;
  std::vector<int32_t> pages, pos, table_offset, n_pages;
  std::unique_ptr<Dev<uint8_t>> pool;
  std::unique_ptr<Dev<int32_t>> d_pages, d_pos, d_offset, d_n;

  PagedPool(int kv_dim, const std::vector<int>& positions, int layers) {
    g.block_tokens = 16;
    g.kv_dim = kv_dim;
    g.row_bytes = static_cast<size_t>(kv_dim) * 2;
    g.page_bytes = 4096;
    g.rows_per_page = static_cast<int>(g.page_bytes / g.row_bytes);
    g.pages_per_block = (layers * 2 * g.block_tokens + g.rows_per_page - 1) / g.rows_per_page;
    int num_pages = 0;
    for (int p : positions) num_pages += (p / g.block_tokens + 1) * g.pages_per_block;
    std::vector<int32_t> perm(num_pages);
    for (int i = 0; i < num_pages; i++) perm[i] = i;
    std::shuffle(perm.begin(), perm.end(), rng());
    for (int p : positions) {  // each token its own sequence, long enough for its position; no page shared
      const int n = (p / g.block_tokens + 1) * g.pages_per_block;
      table_offset.push_back(static_cast<int32_t>(pages.size()));
      n_pages.push_back(n);
      pos.push_back(p);
      for (int i = 0; i < n; i++) pages.push_back(perm[pages.size()]);
    }
    pool = std::make_unique<Dev<uint8_t>>(static_cast<size_t>(num_pages) * g.page_bytes);
    d_pages = std::make_unique<Dev<int32_t>>(pages);
    d_pos = std::make_unique<Dev<int32_t>>(pos);
    d_offset = std::make_unique<Dev<int32_t>>(table_offset);
    d_n = std::make_unique<Dev<int32_t>>(n_pages);
  }
  TokenTables tables() const { return TokenTables{d_pos->p, d_offset->p, d_n->p, d_pages->p}; }
  // Byte offset of row (token t at position p, layer, kv) in the pool, as tidepool::KvLayout computes it.
  size_t row_offset(int t, int p, int layer, int kv) const {
    const size_t row = (static_cast<size_t>(layer) * 2 + kv) * g.block_tokens + p % g.block_tokens;
    const size_t index = static_cast<size_t>(p / g.block_tokens) * g.pages_per_block + row / g.rows_per_page;
    return static_cast<size_t>(pages[table_offset[t] + index]) * g.page_bytes + (row % g.rows_per_page) * g.row_bytes;
  }
  std::vector<float> row(const std::vector<uint8_t>& host_pool, int t, int p, int layer, int kv) const {
    const size_t at = row_offset(t, p, layer, kv);
    return widen(std::vector<uint8_t>(host_pool.begin() + at, host_pool.begin() + at + g.row_bytes), WeightType::BF16);
  }
};

// Rotates pairs (i, i + hd/2) of every head of `v` (heads * hd) at position p, in double.
std::vector<double> ref_rope(const std::vector<double>& v, int heads, int hd, int p,
                             const std::vector<float>& inv_freq) {
  std::vector<double> out(v);
  for (int h = 0; h < heads; h++)
    for (int i = 0; i < hd / 2; i++) {
      const double angle = static_cast<float>(p) * inv_freq[i];
      const size_t a = static_cast<size_t>(h) * hd + i, b = a + hd / 2;
      out[a] = v[a] * std::cos(angle) - v[b] * std::sin(angle);
      out[b] = v[b] * std::cos(angle) + v[a] * std::sin(angle);
    }
  return out;
}

std::vector<float> inv_freqs(int hd, float theta) {
  std::vector<float> f(hd / 2);
  for (int i = 0; i < hd / 2; i++) f[i] = 1.0f / std::pow(theta, static_cast<float>(2 * i) / hd);
  return f;
}

}  // namespace

void test_rope_kv(WeightType act, bool bias, int nq, int nk, int hd) {
  const std::vector<int> positions = {0, 1, 17, 300, 4095};
  const int T = static_cast<int>(positions.size()), Q = nq * hd, KV = nk * hd, ld = Q + 2 * KV + 3, layer = 1;
  PagedPool pp(KV, positions, 3);
  const std::vector<float> y = randn(static_cast<size_t>(T) * ld, 2.0f), inv_freq = inv_freqs(hd, 1e6f);
  const Stored qb = random_stored(Q, WeightType::BF16), kb = random_stored(KV, WeightType::BF16),
               vb = random_stored(KV, WeightType::BF16);
  Dev<float> dy(y), df(inv_freq);
  Dev<uint8_t> dqb(qb.bytes), dkb(kb.bytes), dvb(vb.bytes), q_out(static_cast<size_t>(T) * Q * weight_type_bytes(act));
  RopeKvArgs a;
  a.q = dy.p;
  a.ld_q = ld;
  a.k = dy.p + Q;
  a.v = dy.p + Q + KV;
  a.ld_kv = ld;
  if (bias) {
    a.q_bias = dqb.p;
    a.k_bias = dkb.p;
    a.v_bias = dvb.p;
  }
  a.bias_type = WeightType::BF16;
  a.inv_freq = df.p;
  a.nq = nq;
  a.nk = nk;
  a.hd = hd;
  a.layer = layer;
  a.g = pp.g;
  a.tt = pp.tables();
  launch_rope_kv(a, q_out.p, act, pp.pool->p, T, nullptr);
  const std::vector<uint8_t> pool = pp.pool->get();
  std::vector<double> rq, rk, rv;
  std::vector<float> gk, gv;
  for (int t = 0; t < T; t++) {
    auto part = [&](int offset, int n, const Stored& b) {
      std::vector<double> v(n);
      for (int i = 0; i < n; i++)
        v[i] = static_cast<double>(y[static_cast<size_t>(t) * ld + offset + i]) + (bias ? b.f32[i] : 0.0f);
      return v;
    };
    const std::vector<double> q = ref_rope(part(0, Q, qb), nq, hd, positions[t], inv_freq);
    const std::vector<double> k = ref_rope(part(Q, KV, kb), nk, hd, positions[t], inv_freq), v = part(Q + KV, KV, vb);
    rq.insert(rq.end(), q.begin(), q.end());
    rk.insert(rk.end(), k.begin(), k.end());
    rv.insert(rv.end(), v.begin(), v.end());
    const std::vector<float> krow = pp.row(pool, t, positions[t], layer, 0),
                             vrow = pp.row(pool, t, positions[t], layer, 1);
    gk.insert(gk.end(), krow.begin(), krow.end());
    gv.insert(gv.end(), vrow.begin(), vrow.end());
  }
  char label[96];
  std::snprintf(label, sizeof label, "rope+kv nq=%d nk=%d hd=%d%s: q -> %s", nq, nk, hd, bias ? " +bias" : "",
                weight_type_name(act));
  expect_close(label, widen(q_out.get(), act), rq, rounding_tolerance(act));
  expect_close("  k rows in the pool (bf16)", gk, rk, rounding_tolerance(WeightType::BF16));
  expect_close("  v rows in the pool (bf16)", gv, rv, rounding_tolerance(WeightType::BF16));
}

// Decode-shaped attention (one query per sequence) with q and out in `act`: split and unsplit kernels.
void test_attention_act(WeightType act) {
  const int nq = 14, nk = 2, hd = 64, layer = 0;
  const std::vector<int> positions = {5, 130, 999};
  const int T = static_cast<int>(positions.size()), KV = nk * hd;
  PagedPool pp(KV, positions, 1);
  // Every position of each sequence gets a K/V row: kv_write over all (token, position) pairs.
  std::vector<int32_t> all_pos, all_off, all_n;
  std::vector<float> k, v;
  for (int t = 0; t < T; t++)
    for (int p = 0; p <= positions[t]; p++) {
      all_pos.push_back(p);
      all_off.push_back(pp.table_offset[t]);
      all_n.push_back(pp.n_pages[t]);
    }
  k = randn(all_pos.size() * KV);
  v = randn(all_pos.size() * KV);
  Dev<int32_t> dpos(all_pos), doff(all_off), dn(all_n);
  Dev<float> dk(k), dv(v);
  launch_kv_write(dk.p, dv.p, static_cast<int>(all_pos.size()), layer, pp.g,
                  TokenTables{dpos.p, doff.p, dn.p, pp.d_pages->p}, pp.pool->p, nullptr);
  const Stored q = random_stored(static_cast<size_t>(T) * nq * hd, act);
  Dev<uint8_t> dq(q.bytes), out_split(q.bytes.size()), out_whole(q.bytes.size());
  Dev<float> partials(attention_partials_floats(T, nq, hd));
  launch_paged_attention(dq.p, out_split.p, act, pp.pool->p, layer, pp.g, pp.tables(), T, nq, nk, hd, partials.p,
                         nullptr);
  launch_paged_attention(dq.p, out_whole.p, act, pp.pool->p, layer, pp.g, pp.tables(), T, nq, nk, hd, nullptr, nullptr);
  std::vector<double> ref;
  for (int t = 0, first = 0; t < T; first += positions[t] + 1, t++)
    for (int h = 0; h < nq; h++) {
      const int kvh = h / (nq / nk), n = positions[t] + 1;
      std::vector<double> sc(n);
      double mx = -INFINITY, sum = 0;
      for (int j = 0; j < n; j++) {
        double s = 0;
        for (int d = 0; d < hd; d++)
          s += q.f32[(static_cast<size_t>(t) * nq + h) * hd + d] *
               round_to(WeightType::BF16, k[static_cast<size_t>(first + j) * KV + kvh * hd + d]);
        mx = std::max(mx, sc[j] = s / std::sqrt(static_cast<double>(hd)));
      }
      for (double& s : sc) sum += s = std::exp(s - mx);
      for (int d = 0; d < hd; d++) {
        double o = 0;
        for (int j = 0; j < n; j++)
          o += sc[j] / sum * round_to(WeightType::BF16, v[static_cast<size_t>(first + j) * KV + kvh * hd + d]);
        ref.push_back(o);
      }
    }
  const double tol = 2e-3 + rounding_tolerance(act);
  expect_close(std::string("paged attention, q/out ") + weight_type_name(act) + ", split", widen(out_split.get(), act),
               ref, tol);
  expect_close(std::string("paged attention, q/out ") + weight_type_name(act) + ", whole", widen(out_whole.get(), act),
               ref, tol);
}
