// The prefill kernels on a GPU against CPU references, on fresh random inputs (a new seed each run, printed),
// outputs poisoned (NaN) first so unwritten elements fail:
// - flash attention (launch_flash_prefill) on engine-like steps: several sequences at different start
//   positions (chunked prefill continuing from K/V already in the pool), odd lengths, GQA ratios 1/2/7/8,
//   head_dim 64 and 128, f32 and bf16 query/output rows, K/V written by launch_kv_write into shuffled pages;
//   against f64 attention over the same bf16 K/V (relative L2 2e-3 for f32 output, 1e-2 for bf16) and
//   against the warp-per-position kernel (launch_paged_attention);
// - the fused GEMM (launch_gemm_fused): one to three segments with biases, every tile configuration the
//   device fits (shapes chosen so the launcher's pick covers each), f32 and half outputs.
// Prints "SKIP: <reason>" and exits 77 only on a machine without a GPU (cuda_device.h); a broken CUDA
// setup fails.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "../backends/cuda/cuda_device.h"
#include "../kernels/common.cuh"
#include "../kernels/gemm_tc_pick.h"
#include "../kernels/kernels.h"

using namespace tidepool::cuda;

namespace {

std::mt19937_64 rng;
int failures = 0;

template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) {
    CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T)));
    CUDA_CHECK(cudaMemset(p, 0xFF, std::max<size_t>(1, n) * sizeof(T)));  // NaN poison
  }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    CUDA_CHECK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~Dev() { cudaFree(p); }
  std::vector<T> get() const {
    std::vector<T> h(n);
    CUDA_CHECK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

std::vector<float> randn(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

uint16_t half_bits(float v, WeightType t) {
  uint16_t b;
  if (t == WeightType::F16) {
    const __half h = __float2half_rn(v);
    std::memcpy(&b, &h, 2);
  } else {
    const __nv_bfloat16 h = __float2bfloat16_rn(v);
    std::memcpy(&b, &h, 2);
  }
  return b;
}
float half_value(uint16_t b, WeightType t) {
  if (t == WeightType::F16) {
    __half_raw raw;
    raw.x = b;
    return __half2float(__half(raw));
  }
  __nv_bfloat16_raw raw;
  raw.x = b;
  return __bfloat162float(__nv_bfloat16(raw));
}
float bf16_round(float v) { return half_value(half_bits(v, WeightType::BF16), WeightType::BF16); }

// Rows (count, ld) of f32 or 16-bit elements as bytes on the device, and back as f32.
std::vector<uint8_t> encode(const std::vector<float>& v, WeightType t) {
  std::vector<uint8_t> out(v.size() * weight_type_bytes(t));
  for (size_t i = 0; i < v.size(); i++) {
    if (t == WeightType::F32) std::memcpy(&out[4 * i], &v[i], 4);
    else {
      const uint16_t b = half_bits(v[i], t);
      std::memcpy(&out[2 * i], &b, 2);
    }
  }
  return out;
}
std::vector<float> decode(const std::vector<uint8_t>& bytes, WeightType t) {
  std::vector<float> out(bytes.size() / weight_type_bytes(t));
  for (size_t i = 0; i < out.size(); i++) {
    if (t == WeightType::F32) std::memcpy(&out[i], &bytes[4 * i], 4);
    else {
      uint16_t b;
      std::memcpy(&b, &bytes[2 * i], 2);
      out[i] = half_value(b, t);
    }
  }
  return out;
}

bool expect_close(const std::string& what, const std::vector<float>& out, const std::vector<double>& ref, double tol) {
  double num = 0, den = 0;
  bool finite = out.size() == ref.size();
  for (size_t i = 0; i < ref.size() && finite; i++) {
    finite = std::isfinite(out[i]);
    num += (out[i] - ref[i]) * (out[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  const double rel = finite ? std::sqrt(num / std::max(den, 1e-30)) : INFINITY;
  const bool ok = rel <= tol;
  std::printf("%-72s rel %.2e (tol %.0e) %s\n", what.c_str(), rel, tol, ok ? "ok" : "FAIL");
  if (!ok) failures++;
  return ok;
}

struct Entry {
  int start, n;  // positions start .. start + n - 1 computed in this step
};

// One step over `entries` with nq = nk * group heads of head_dim hd in layer 1 of a 3-layer pool.
void test_flash(int hd, int nk, int group, const std::vector<Entry>& entries, WeightType q_type, WeightType out_type) {
  const int nq = nk * group, layers = 3, layer = 1;
  KvGeometry g;
  g.block_tokens = 16;
  g.kv_dim = nk * hd;
  g.row_bytes = static_cast<size_t>(g.kv_dim) * 2;
  g.page_bytes = 64 << 10;
  g.rows_per_page = static_cast<int>(g.page_bytes / g.row_bytes);
  g.pages_per_block = (layers * 2 * g.block_tokens + g.rows_per_page - 1) / g.rows_per_page;
  std::vector<int32_t> pages, all_pos, all_off, all_n, pos, off, npages, first;
  int num_pages = 0;
  for (const Entry& e : entries) num_pages += (e.start + e.n + g.block_tokens - 1) / g.block_tokens * g.pages_per_block;
  num_pages += 5;
  std::vector<int32_t> perm(num_pages);
  for (int i = 0; i < num_pages; i++) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  int used = 0, rows = 0;
  for (const Entry& e : entries) {
    const int len = e.start + e.n, n = (len + g.block_tokens - 1) / g.block_tokens * g.pages_per_block;
    const int offset = static_cast<int>(pages.size());
    for (int i = 0; i < n; i++) pages.push_back(perm[used++]);
    for (int p = 0; p < len; p++) {  // every position's K/V, the earlier chunks' included
      all_pos.push_back(p);
      all_off.push_back(offset);
      all_n.push_back(n);
    }
    for (int p = e.start; p < len; p++) {
      pos.push_back(p);
      off.push_back(offset);
      npages.push_back(n);
      first.push_back(rows);
    }
    rows += len;
  }
  const int T = static_cast<int>(pos.size());
  std::vector<float> k = randn(static_cast<size_t>(rows) * g.kv_dim), v = randn(static_cast<size_t>(rows) * g.kv_dim);
  Dev<uint8_t> pool(static_cast<size_t>(num_pages) * g.page_bytes);
  Dev<int32_t> dpages(pages), dall_pos(all_pos), dall_off(all_off), dall_n(all_n), dpos(pos), doff(off), dn(npages);
  Dev<float> dk(k), dv(v);
  launch_kv_write(dk.p, dv.p, rows, layer, g, TokenTables{dall_pos.p, dall_off.p, dall_n.p, dpages.p}, pool.p, nullptr);

  const int q_ld = (nq + 2 * nk) * hd, out_ld = nq * hd + 8;  // Q inside a fused QKV row; padded output rows
  std::vector<float> q = randn(static_cast<size_t>(T) * q_ld);
  Dev<uint8_t> dq(encode(q, q_type)), dout(static_cast<size_t>(T) * out_ld * weight_type_bytes(out_type));
  const TokenTables tt{dpos.p, doff.p, dn.p, dpages.p};
  launch_flash_prefill(dq.p, q_type, q_ld, dout.p, out_type, out_ld, pool.p, layer, g, tt, T, nq, nk, hd, nullptr);
  std::vector<float> got_all = decode(dout.get(), out_type), got, qf;
  for (int t = 0; t < T; t++) {
    got.insert(got.end(), got_all.begin() + static_cast<size_t>(t) * out_ld,
               got_all.begin() + static_cast<size_t>(t) * out_ld + nq * hd);
    for (int i = 0; i < nq * hd; i++) qf.push_back(q[static_cast<size_t>(t) * q_ld + i]);
  }
  bool padding_untouched = true;  // NaN poison must survive past nq * hd
  for (int t = 0; t < T; t++)
    for (int i = nq * hd; i < out_ld; i++)
      padding_untouched = padding_untouched && std::isnan(got_all[static_cast<size_t>(t) * out_ld + i]);

  std::vector<double> ref;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  for (int t = 0; t < T; t++)
    for (int h = 0; h < nq; h++) {
      const int kvh = h / group;
      std::vector<double> sc(pos[t] + 1);
      double mx = -INFINITY;
      for (int j = 0; j <= pos[t]; j++) {
        double s = 0;
        for (int d = 0; d < hd; d++)
          s += static_cast<double>(half_value(
                   half_bits(qf[(static_cast<size_t>(t) * nq + h) * hd + d], WeightType::BF16), WeightType::BF16)) *
               bf16_round(k[static_cast<size_t>(first[t] + j) * g.kv_dim + kvh * hd + d]);
        sc[j] = s * scale;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (auto& s : sc) sum += s = std::exp(s - mx);
      for (int d = 0; d < hd; d++) {
        double o = 0;
        for (int j = 0; j <= pos[t]; j++)
          o += sc[j] / sum * bf16_round(v[static_cast<size_t>(first[t] + j) * g.kv_dim + kvh * hd + d]);
        ref.push_back(o);
      }
    }
  std::string shape;
  for (const Entry& e : entries)
    shape += (shape.empty() ? "" : ",") + std::to_string(e.start) + "+" + std::to_string(e.n);
  const std::string name = "flash hd=" + std::to_string(hd) + " nq=" + std::to_string(nq) +
                           " nk=" + std::to_string(nk) + " q=" + weight_type_name(q_type) +
                           " out=" + weight_type_name(out_type) + " seqs " + shape;
  expect_close(name, got, ref, out_type == WeightType::F32 ? 2e-3 : 1e-2);
  std::printf("%-72s %s\n", "  output padding untouched", padding_untouched ? "ok" : "FAIL");
  if (!padding_untouched) failures++;

  if (q_type == WeightType::F32 && out_type == WeightType::F32 && hd <= 256) {  // the reference kernel agrees
    Dev<float> dqc(qf), dref(qf.size());
    launch_paged_attention(dqc.p, dref.p, WeightType::F32, pool.p, layer, g, tt, T, nq, nk, hd, nullptr, nullptr);
    std::vector<float> warp_kernel = dref.get();
    std::vector<double> as_ref(warp_kernel.begin(), warp_kernel.end());
    expect_close("  agrees with launch_paged_attention", got, as_ref, 2e-3);
  }
}

std::vector<double> ref_matmul(const std::vector<float>& X, const std::vector<float>& W, int M, int N, int K) {
  std::vector<double> y(static_cast<size_t>(M) * N);
  for (int m = 0; m < M; m++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++)
        s += static_cast<double>(X[static_cast<size_t>(m) * K + k]) * W[static_cast<size_t>(j) * K + k];
      y[static_cast<size_t>(m) * N + j] = s;
    }
  return y;
}

// Y_s = A · W_s^T + b_s for segments of `widths`, A (M, K) in w; the error includes rounding A to w.
void test_gemm_fused(WeightType w, WeightType out_type, int M, int K, const std::vector<int>& widths) {
  const int count = static_cast<int>(widths.size());
  std::vector<float> a = randn(static_cast<size_t>(M) * K);
  std::vector<uint8_t> a_half = encode(a, w);
  Dev<uint8_t> da(a_half);
  std::vector<std::vector<float>> wf(count), bias(count);
  std::vector<Dev<uint8_t>*> dw, db, dy;
  LinearSegment segs[3];
  for (int s = 0; s < count; s++) {
    wf[s] = decode(encode(randn(static_cast<size_t>(widths[s]) * K, 0.05f), w), w);
    bias[s] = randn(widths[s]);
    const WeightType bias_type = s == 1 ? WeightType::F32 : w;
    bias[s] = decode(encode(bias[s], bias_type), bias_type);
    dw.push_back(new Dev<uint8_t>(encode(wf[s], w)));
    db.push_back(new Dev<uint8_t>(encode(bias[s], bias_type)));
    dy.push_back(new Dev<uint8_t>(static_cast<size_t>(M) * widths[s] * weight_type_bytes(out_type)));
    segs[s] = {dw[s]->p, widths[s], s == 2 ? nullptr : db[s]->p, bias_type, dy[s]->p, widths[s]};
  }
  launch_gemm_fused(da.p, K, w, segs, count, M, K, out_type, nullptr);
  int N = 0;
  for (int x : widths) N += x;
  cudaDeviceProp prop;
  int dev = 0;
  CUDA_CHECK(cudaGetDevice(&dev));
  CUDA_CHECK(cudaGetDeviceProperties(&prop, dev));
  const bool fits[3] = {tidepool::cuda::tc::GemmTileSmall::SMEM_BYTES <= static_cast<int>(prop.sharedMemPerBlockOptin),
                        tidepool::cuda::tc::GemmTileMedium::SMEM_BYTES <= static_cast<int>(prop.sharedMemPerBlockOptin),
                        tidepool::cuda::tc::GemmTileLarge::SMEM_BYTES <= static_cast<int>(prop.sharedMemPerBlockOptin)};
  const int tile = static_cast<int>(tidepool::cuda::tc::pick_gemm_tile(M, N, prop.multiProcessorCount, fits));
  const char* tiles[3] = {"64x128", "128x128", "128x256"};
  for (int s = 0; s < count; s++) {
    std::vector<double> ref = ref_matmul(a, wf[s], M, widths[s], K);
    if (s != 2)
      for (int m = 0; m < M; m++)
        for (int j = 0; j < widths[s]; j++) ref[static_cast<size_t>(m) * widths[s] + j] += bias[s][j];
    char name[128];
    std::snprintf(name, sizeof name, "gemm fused %s->%s tile %s M=%d K=%d segment %d/%d (n=%d)", weight_type_name(w),
                  weight_type_name(out_type), tiles[tile], M, K, s + 1, count, widths[s]);
    const double tol = (w == WeightType::BF16 ? 1e-2 : 5e-3) + (out_type == WeightType::F32 ? 0 : 5e-3);
    expect_close(name, decode(dy[s]->get(), out_type), ref, tol);
    delete dw[s];
    delete db[s];
    delete dy[s];
  }
}

}  // namespace

int main() {
  if (const int gate = gpu_test_gate("flash_prefill_test")) return gate;  // skips only without a GPU
  const uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  rng.seed(seed);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  const std::vector<Entry> mixed = {{0, 37}, {50, 29}, {0, 1}, {130, 70}};
  for (WeightType q : {WeightType::F32, WeightType::BF16}) {
    test_flash(128, 4, 7, mixed, q, q);                              // qwen2.5-7b heads
    test_flash(64, 2, 7, {{0, 300}, {17, 40}}, q, WeightType::F32);  // qwen2.5-0.5b heads
  }
  test_flash(128, 2, 1, {{0, 130}, {3, 5}}, WeightType::F32, WeightType::F32);  // MHA
  test_flash(64, 2, 2, {{33, 100}, {0, 2}, {7, 1}}, WeightType::F32, WeightType::F32);
  test_flash(128, 1, 8, {{1000, 64}, {0, 65}}, WeightType::F16, WeightType::F32);  // ratio 8, long context
  test_flash(128, 4, 7, {{0, 2048}}, WeightType::F32, WeightType::F32);            // one whole chunk
  for (WeightType w : {WeightType::BF16, WeightType::F16}) {
    test_gemm_fused(w, WeightType::F32, 37, 264, {200});
    test_gemm_fused(w, WeightType::F32, 130, 1024, {384, 64, 64});
    test_gemm_fused(w, w, 513, 896, {1000, 24});
    test_gemm_fused(w, WeightType::F32, 1024, 256, {3584, 512, 512});  // qwen2.5-7b Q/K/V widths
    test_gemm_fused(w, WeightType::F32, 1024, 128, {3584});
    test_gemm_fused(w, WeightType::F32, 256, 64, {18944, 18944});  // gate/up widths
  }
  CUDA_CHECK(cudaDeviceSynchronize());
  std::printf(failures ? "%d FAILED\n" : "all prefill kernel tests passed\n", failures);
  return failures ? 1 : 0;
}
