// Kernels in cuda/kernels against a CPU reference on fresh random inputs (a new seed each run, printed),
// with outputs poisoned (NaN) before each launch so unwritten elements fail. The decode kernels (skinny
// GEMM, fused norms, RoPE + KV write, SwiGLU) are checked in decode_kernels_test.cu. Tolerances are
// relative L2 errors: f32 paths 1e-4, tensor-core GEMM with bf16 operands 1e-2 and f16 5e-3 (f32
// accumulate), attention over a bf16 cache 2e-3 against the same bf16 values.
// Prints "SKIP: <reason>" and exits 77 only on a machine without a GPU (cuda_device.h); a broken CUDA setup fails.
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../backends/cuda/cuda_device.h"
#include "../kernels/common.cuh"
#include "../kernels/kernels.h"

using namespace tidepool::cuda;

namespace {

std::mt19937_64 rng;
int failures = 0;

std::vector<float> randn(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) {
    CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T)));
    CUDA_CHECK(cudaMemset(p, 0xFF, std::max<size_t>(1, n) * sizeof(T)));  // NaN poison for floats
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

// Weights stored as `w`, and their exact f32 values.
struct HostWeights {
  std::vector<uint16_t> half;  // f16 or bf16 bits
  std::vector<float> f32;      // stored values as f32 (what the GPU reads)
  WeightType type;
  const void* host() const { return type == WeightType::F32 ? static_cast<const void*>(f32.data()) : half.data(); }
  size_t bytes() const { return f32.size() * weight_type_bytes(type); }
};

HostWeights make_weights(size_t n, WeightType type, float scale = 1.0f) {
  HostWeights w;
  w.type = type;
  w.f32 = randn(n, scale);
  if (type == WeightType::F32) return w;
  w.half.resize(n);
  for (size_t i = 0; i < n; i++) {
    if (type == WeightType::F16) {
      __half h = __float2half_rn(w.f32[i]);
      std::memcpy(&w.half[i], &h, 2);
      w.f32[i] = __half2float(h);
    } else {
      __nv_bfloat16 h = __float2bfloat16_rn(w.f32[i]);
      std::memcpy(&w.half[i], &h, 2);
      w.f32[i] = __bfloat162float(h);
    }
  }
  return w;
}

struct DevBytes {
  uint8_t* p = nullptr;
  explicit DevBytes(const HostWeights& w) {
    CUDA_CHECK(cudaMalloc(&p, w.bytes()));
    CUDA_CHECK(cudaMemcpy(p, w.host(), w.bytes(), cudaMemcpyHostToDevice));
  }
  ~DevBytes() { cudaFree(p); }
};

void expect_close(const char* what, const std::vector<float>& out, const std::vector<double>& ref, double tol) {
  double num = 0, den = 0;
  bool finite = out.size() == ref.size();
  for (size_t i = 0; i < ref.size() && finite; i++) {
    finite = std::isfinite(out[i]);
    num += (out[i] - ref[i]) * (out[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  const double rel = finite ? std::sqrt(num / std::max(den, 1e-30)) : INFINITY;
  const bool ok = rel <= tol;
  std::printf("%-44s rel %.2e (tol %.0e) %s\n", what, rel, tol, ok ? "ok" : "FAIL");
  if (!ok) failures++;
}

std::vector<double> ref_matmul(const std::vector<float>& X, const std::vector<float>& W, int T, int N, int K) {
  std::vector<double> y(static_cast<size_t>(T) * N);
  for (int t = 0; t < T; t++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++)
        s += static_cast<double>(X[static_cast<size_t>(t) * K + k]) * W[static_cast<size_t>(j) * K + k];
      y[static_cast<size_t>(t) * N + j] = s;
    }
  return y;
}

void test_gemv(WeightType type, int T) {
  const int N = 301, K = 520;
  HostWeights w = make_weights(static_cast<size_t>(N) * K, type, 0.05f);
  std::vector<float> x = randn(static_cast<size_t>(T) * K);
  DevBytes dw(w);
  Dev<float> dx(x), dy(static_cast<size_t>(T) * N);
  launch_gemv(dx.p, dw.p, type, dy.p, T, N, K, nullptr);
  char name[64];
  std::snprintf(name, sizeof name, "gemv %s T=%d", weight_type_name(type), T);
  expect_close(name, dy.get(), ref_matmul(x, w.f32, T, N, K), 1e-5);
}

void test_gemm_tc(WeightType type, int M, int N, int K) {
  HostWeights w = make_weights(static_cast<size_t>(N) * K, type, 0.05f);
  std::vector<float> x = randn(static_cast<size_t>(M) * K);
  DevBytes dw(w);
  Dev<float> dx(x), dy(static_cast<size_t>(M) * N);
  Dev<uint16_t> dxh(static_cast<size_t>(M) * K);
  launch_cast_half(dx.p, dxh.p, type, x.size(), nullptr);
  launch_gemm_tc(dxh.p, dw.p, type, dy.p, M, N, K, nullptr);
  char name[64];
  std::snprintf(name, sizeof name, "gemm_tc %s %dx%dx%d", weight_type_name(type), M, N, K);
  // Against f32 activations: the error includes rounding A to the half type, as in the forward pass.
  expect_close(name, dy.get(), ref_matmul(x, w.f32, M, N, K), type == WeightType::BF16 ? 1e-2 : 5e-3);
}

float bf16_round(float v) { return __bfloat162float(__float2bfloat16_rn(v)); }

// Two sequences with random block tables over a shared pool; K/V written by kv_write, then attention.
void test_attention(int nq, int nk, int hd, int len0, int len1, int new_tokens) {
  KvGeometry g;
  g.block_tokens = 16;
  g.kv_dim = nk * hd;
  g.row_bytes = static_cast<size_t>(g.kv_dim) * 2;
  g.page_bytes = 4096;
  g.rows_per_page = static_cast<int>(g.page_bytes / g.row_bytes);
  const int layers = 2, layer = 1;
  g.pages_per_block = (layers * 2 * g.block_tokens + g.rows_per_page - 1) / g.rows_per_page;
  const int lens[2] = {len0, len1};
  const int num_pages = 4096;
  std::vector<int32_t> perm(num_pages);
  for (int i = 0; i < num_pages; i++) perm[i] = i;
  std::shuffle(perm.begin(), perm.end(), rng);
  std::vector<int32_t> pages, pos, table_offset, n_pages;
  int used = 0;
  for (int s = 0; s < 2; s++) {
    const int blocks = (lens[s] + g.block_tokens - 1) / g.block_tokens;
    const int n = blocks * g.pages_per_block, offset = static_cast<int>(pages.size());
    for (int i = 0; i < n; i++) pages.push_back(perm[used++]);
    for (int p = 0; p < lens[s]; p++) {  // every position of both sequences is computed here
      pos.push_back(p);
      table_offset.push_back(offset);
      n_pages.push_back(n);
    }
  }
  const int T = static_cast<int>(pos.size());
  std::vector<float> k = randn(static_cast<size_t>(T) * g.kv_dim), v = randn(static_cast<size_t>(T) * g.kv_dim);
  std::vector<float> q = randn(static_cast<size_t>(T) * nq * hd);
  Dev<uint8_t> pool(static_cast<size_t>(num_pages) * g.page_bytes);
  Dev<int32_t> dpages(pages), dpos(pos), doff(table_offset), dn(n_pages);
  Dev<float> dk(k), dv(v), dq(q), dout(static_cast<size_t>(T) * nq * hd);
  TokenTables tt{dpos.p, doff.p, dn.p, dpages.p};
  launch_kv_write(dk.p, dv.p, T, layer, g, tt, pool.p, nullptr);
  // Attention only for the last `new_tokens` of each sequence (a decode or chunk step), via offset tables.
  std::vector<int> picked;
  for (int t = 0; t < T; t++) {
    const int s = t < lens[0] ? 0 : 1;
    if (pos[t] >= lens[s] - new_tokens) picked.push_back(t);
  }
  std::vector<int32_t> ppos, poff, pn;
  std::vector<float> pq;
  for (int t : picked) {
    ppos.push_back(pos[t]);
    poff.push_back(table_offset[t]);
    pn.push_back(n_pages[t]);
    pq.insert(pq.end(), q.begin() + static_cast<size_t>(t) * nq * hd, q.begin() + static_cast<size_t>(t + 1) * nq * hd);
  }
  Dev<int32_t> dppos(ppos), dpoff(poff), dpn(pn);
  Dev<float> dpq(pq), dpout(pq.size());
  TokenTables pt{dppos.p, dpoff.p, dpn.p, dpages.p};
  const int P = static_cast<int>(picked.size());
  launch_paged_attention(dpq.p, dpout.p, WeightType::F32, pool.p, layer, g, pt, P, nq, nk, hd, nullptr,
                         nullptr);  // one block per head
  Dev<float> dsplit(pq.size()), partials(attention_partials_floats(P, nq, hd));
  const bool split = P <= kAttentionSplitMaxTokens;
  if (split)
    launch_paged_attention(dpq.p, dsplit.p, WeightType::F32, pool.p, layer, g, pt, P, nq, nk, hd, partials.p, nullptr);
  std::vector<double> ref;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  for (size_t i = 0; i < picked.size(); i++) {
    const int t = picked[i], first = t - pos[t];  // the sequence's first token index in k/v
    for (int h = 0; h < nq; h++) {
      const int kvh = h / (nq / nk);
      std::vector<double> sc(pos[t] + 1);
      double mx = -INFINITY;
      for (int j = 0; j <= pos[t]; j++) {
        double s = 0;
        for (int d = 0; d < hd; d++)
          s += static_cast<double>(pq[(i * nq + h) * hd + d]) *
               bf16_round(k[static_cast<size_t>(first + j) * g.kv_dim + kvh * hd + d]);
        sc[j] = s * scale;
        mx = std::max(mx, sc[j]);
      }
      double sum = 0;
      for (auto& s : sc) sum += s = std::exp(s - mx);
      for (int d = 0; d < hd; d++) {
        double o = 0;
        for (int j = 0; j <= pos[t]; j++)
          o += sc[j] / sum * bf16_round(v[static_cast<size_t>(first + j) * g.kv_dim + kvh * hd + d]);
        ref.push_back(o);
      }
    }
  }
  char name[112];
  std::snprintf(name, sizeof name, "paged attention nq=%d nk=%d hd=%d len=%d,%d new=%d", nq, nk, hd, len0, len1,
                new_tokens);
  expect_close(name, dpout.get(), ref, 2e-3);
  if (split) {
    std::snprintf(name, sizeof name, "paged attention, %d-way split, nq=%d nk=%d hd=%d len=%d,%d new=%d",
                  kAttentionSplits, nq, nk, hd, len0, len1, new_tokens);
    expect_close(name, dsplit.get(), ref, 2e-3);
  }
}

void test_pages() {
  const size_t page_bytes = 8192;
  const int num_pages = 64, n = 10;
  std::vector<uint8_t> pool_h(num_pages * page_bytes);
  for (auto& b : pool_h) b = static_cast<uint8_t>(rng());
  std::vector<int32_t> ids = {5, 63, 0, 17, 18, 2, 40, 41, 9, 33};
  Dev<uint8_t> pool(pool_h), staged(n * page_bytes), pool2(num_pages * page_bytes);
  Dev<int32_t> dids(ids);
  launch_gather_pages(pool.p, dids.p, n, page_bytes, staged.p, nullptr);
  CUDA_CHECK(cudaMemcpy(pool2.p, pool.p, pool_h.size(), cudaMemcpyDeviceToDevice));
  CUDA_CHECK(cudaMemset(pool.p, 0, pool_h.size()));
  launch_scatter_pages(staged.p, dids.p, n, page_bytes, pool.p, nullptr);
  std::vector<uint8_t> got = staged.get(), back = pool.get();
  bool ok = true;
  for (int i = 0; i < n; i++) {
    ok = ok && std::memcmp(got.data() + i * page_bytes, pool_h.data() + ids[i] * page_bytes, page_bytes) == 0;
    ok = ok && std::memcmp(back.data() + ids[i] * page_bytes, pool_h.data() + ids[i] * page_bytes, page_bytes) == 0;
  }
  std::printf("%-44s %s\n", "gather/scatter pages bit-exact", ok ? "ok" : "FAIL");
  if (!ok) failures++;
}

void test_argmax() {
  const int R = 5, V = 151936;
  std::vector<float> logits = randn(static_cast<size_t>(R) * V);
  logits[2 * V + 100] = 50.0f;  // a tie: the lower index must win
  logits[2 * V + 90000] = 50.0f;
  Dev<float> d(logits);
  Dev<int32_t> out(R);
  launch_argmax(d.p, R, V, out.p, nullptr);
  std::vector<int32_t> got = out.get();
  bool ok = true;
  for (int r = 0; r < R; r++) {
    const int ref = static_cast<int>(
        std::max_element(logits.begin() + static_cast<size_t>(r) * V, logits.begin() + static_cast<size_t>(r + 1) * V) -
        (logits.begin() + static_cast<size_t>(r) * V));
    ok = ok && got[r] == ref;
  }
  std::printf("%-44s %s\n", "argmax (ties to the lowest index)", ok ? "ok" : "FAIL");
  if (!ok) failures++;
}

}  // namespace

int main() {
  if (const int gate = gpu_test_gate("cuda_kernels_test")) return gate;  // skips only without a GPU
  const uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  rng.seed(seed);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  for (WeightType w : {WeightType::F32, WeightType::F16, WeightType::BF16})
    for (int T : {1, 2, 5, 8, 13, 32}) test_gemv(w, T);
  for (WeightType w : {WeightType::F16, WeightType::BF16}) {
    test_gemm_tc(w, 1, 130, 64);
    test_gemm_tc(w, 37, 200, 264);
    test_gemm_tc(w, 130, 384, 1024);
    test_gemm_tc(w, 513, 1000, 896);
  }
  test_attention(4, 2, 16, 9, 30, 9);      // tiny fixture shape, whole prompts
  test_attention(14, 2, 64, 100, 37, 1);   // qwen2.5-0.5b heads, decode
  test_attention(28, 4, 128, 300, 64, 5);  // qwen2.5-7b heads
  test_attention(8, 8, 256, 40, 17, 3);    // MHA, the largest head_dim
  test_attention(28, 4, 128, 1500, 7, 1);  // decode at a long context next to a context shorter than the splits
  test_pages();
  test_argmax();
  CUDA_CHECK(cudaDeviceSynchronize());
  std::printf(failures ? "%d FAILED\n" : "all kernel tests passed\n", failures);
  return failures ? 1 : 0;
}
