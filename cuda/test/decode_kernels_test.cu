// The decode path's kernels against CPU references on fresh random inputs (seed printed), outputs poisoned
// with NaN so unwritten elements fail, on odd shapes:
//   - skinny GEMM (f16, bf16): groups of 1..3 tensors, T = 1..32, gathered rows, split-K and not; also
//     bit-identical on a second run, a token's row identical alone and in a batch of 32, counters back at 0;
//   - embedding + RMSNorm and residual add + RMSNorm into each activation dtype;
//   - bias + RoPE + KV write (q in the activation dtype, K/V bf16 rows in the paged pool);
//   - SwiGLU into the activation dtype; paged attention with q and output in bf16.
// Tolerances: the skinny GEMM accumulates exact half inputs in f32 (1e-5); kernels that round once to an
// activation dtype get half an ulp of it (kernel_test_support.cuh). Prints "SKIP: <reason>" and exits 77
// only on a machine without a GPU (cuda_device.h); a broken CUDA setup fails.
#include <chrono>

#include "../backends/cuda/cuda_device.h"
#include "kernel_test_support.cuh"

using namespace tidepool::cuda;
using namespace tidepool::cuda::test;

namespace {

const char* name_of(WeightType w) { return weight_type_name(w); }

struct SkinnyRun {
  std::vector<float> y;       // (T, ldy)
  std::vector<int> counters;  // after the launch
};

SkinnyRun run_skinny(const std::vector<Stored>& W, const std::vector<int>& n, const Stored& X,
                     const std::vector<int32_t>& rows, int T, int K, int ldy) {
  std::vector<std::unique_ptr<Dev<uint8_t>>> dw;
  SkinnyGroup g;
  for (size_t i = 0; i < W.size(); i++) {
    dw.push_back(std::make_unique<Dev<uint8_t>>(W[i].bytes));
    g.w[g.count] = dw.back()->p;
    g.n[g.count++] = n[i];
  }
  Dev<uint8_t> dx(X.bytes);
  Dev<int32_t> drows(rows);
  Dev<float> y(static_cast<size_t>(T) * ldy), ws(std::max<size_t>(1, skinny_workspace_floats(n.data(), g.count, K, T)));
  Dev<int> counters(std::vector<int>(kSkinnyCounterInts, 0));
  launch_skinny_gemm(dx.p, rows.empty() ? nullptr : drows.p, T, K, g, X.type, y.p, ldy, ws.p, counters.p, nullptr);
  return {y.get(), counters.get()};
}

void test_skinny(WeightType type, const std::vector<int>& n, int K, int T, bool gather) {
  std::vector<Stored> W;
  int cols = 0;
  for (int rows : n) {
    W.push_back(random_stored(static_cast<size_t>(rows) * K, type, 0.05f));
    cols += rows;
  }
  const int x_count = gather ? T + 7 : T, ldy = cols + 5;
  const Stored X = random_stored(static_cast<size_t>(x_count) * K, type);
  std::vector<int32_t> rows;
  for (int t = 0; gather && t < T; t++) rows.push_back((t * 5 + 2) % x_count);
  const SkinnyRun a = run_skinny(W, n, X, rows, T, K, ldy), b = run_skinny(W, n, X, rows, T, K, ldy);
  std::vector<float> got;
  std::vector<double> ref;
  bool pad_untouched = true;
  for (int t = 0; t < T; t++) {
    const int xr = gather ? rows[t] : t;
    for (size_t i = 0, col = 0; i < W.size(); col += n[i], i++)
      for (int r = 0; r < n[i]; r++) {
        double s = 0;
        for (int k = 0; k < K; k++)
          s += static_cast<double>(X.f32[static_cast<size_t>(xr) * K + k]) * W[i].f32[static_cast<size_t>(r) * K + k];
        ref.push_back(s);
        got.push_back(a.y[static_cast<size_t>(t) * ldy + col + r]);
      }
    for (int c = cols; c < ldy; c++) pad_untouched = pad_untouched && std::isnan(a.y[static_cast<size_t>(t) * ldy + c]);
  }
  std::string label = std::string("skinny ") + name_of(type) + " n=";
  for (int rows_i : n) label += std::to_string(rows_i) + ",";
  label += " K=" + std::to_string(K) + " T=" + std::to_string(T) + (gather ? " gathered" : "");
  expect_close(label, got, ref, 1e-5);
  expect(pad_untouched && std::memcmp(a.y.data(), b.y.data(), a.y.size() * 4) == 0 &&
             a.counters == std::vector<int>(kSkinnyCounterInts, 0),
         "  second run bit-identical, nothing past the outputs written, counters 0");
}

// Row r computed in a batch of 32 and alone (gathered) must be the same bits: the split depends on shapes only.
void test_skinny_batch_invariance(WeightType type) {
  const std::vector<int> n = {1152};  // qwen2.5-0.5b's Q/K/V rows: split-K on every current GPU
  const int K = 896, r = 11;
  const std::vector<Stored> W = {random_stored(static_cast<size_t>(n[0]) * K, type, 0.05f)};
  const Stored X = random_stored(static_cast<size_t>(32) * K, type);
  const SkinnyRun batch = run_skinny(W, n, X, {}, 32, K, n[0]), alone = run_skinny(W, n, X, {r}, 1, K, n[0]);
  expect(std::memcmp(batch.y.data() + static_cast<size_t>(r) * n[0], alone.y.data(), n[0] * 4) == 0,
         std::string("skinny ") + name_of(type) + ": a token's outputs alone == in a batch of 32 (bits)");
}

// Reference RMSNorm of one row (double), scaled by the norm weight.
std::vector<double> ref_norm(const float* x, int H, const std::vector<float>& w, double eps) {
  double ss = 0;
  for (int i = 0; i < H; i++) ss += static_cast<double>(x[i]) * x[i];
  const double inv = 1.0 / std::sqrt(ss / H + eps);
  std::vector<double> out(H);
  for (int i = 0; i < H; i++) out[i] = w[i] * (x[i] * inv);
  return out;
}

void test_embed_rmsnorm(WeightType act, WeightType table_type, WeightType norm_type) {
  const int V = 97, H = 200, T = 11;
  const Stored table = random_stored(static_cast<size_t>(V) * H, table_type), norm = random_stored(H, norm_type);
  std::vector<int32_t> tokens(T);
  for (auto& t : tokens) t = static_cast<int32_t>(rng()() % V);
  Dev<uint8_t> dt(table.bytes), dn(norm.bytes), h(static_cast<size_t>(T) * H * weight_type_bytes(act));
  Dev<int32_t> dtok(tokens);
  Dev<float> x(static_cast<size_t>(T) * H);
  launch_embed_rmsnorm(dt.p, table_type, dtok.p, T, H, dn.p, norm_type, 1e-5f, x.p, h.p, act, nullptr);
  std::vector<double> rx, rh;
  for (int t = 0; t < T; t++) {
    const float* row = &table.f32[static_cast<size_t>(tokens[t]) * H];
    rx.insert(rx.end(), row, row + H);
    const std::vector<double> normed = ref_norm(row, H, norm.f32, 1e-5);
    rh.insert(rh.end(), normed.begin(), normed.end());
  }
  const std::string types =
      std::string(name_of(table_type)) + " table, " + name_of(norm_type) + " norm -> " + name_of(act);
  expect_close("embed+rmsnorm x, " + types, x.get(), rx, 0.0);
  expect_close("embed+rmsnorm h, " + types, widen(h.get(), act), rh, rounding_tolerance(act));
}

void test_residual_rmsnorm(WeightType act, WeightType norm_type) {
  const int T = 7, H = 264, ldy = 300;
  const std::vector<float> x0 = randn(static_cast<size_t>(T) * H), y = randn(static_cast<size_t>(T) * ldy);
  const Stored norm = random_stored(H, norm_type);
  Dev<float> dx(x0), dy(y);
  Dev<uint8_t> dn(norm.bytes), h(static_cast<size_t>(T) * H * weight_type_bytes(act));
  launch_residual_rmsnorm(dx.p, dy.p, ldy, T, H, dn.p, norm_type, 1e-6f, h.p, act, nullptr);
  std::vector<float> sum(x0.size());
  std::vector<double> rx, rh;
  for (int t = 0; t < T; t++) {
    for (int i = 0; i < H; i++) sum[t * H + i] = x0[t * H + i] + y[t * ldy + i];
    rx.insert(rx.end(), sum.begin() + t * H, sum.begin() + (t + 1) * H);
    const std::vector<double> normed = ref_norm(&sum[t * H], H, norm.f32, 1e-6);
    rh.insert(rh.end(), normed.begin(), normed.end());
  }
  const std::string types = std::string(name_of(norm_type)) + " norm -> " + name_of(act);
  expect_close("residual+rmsnorm x, " + types, dx.get(), rx, 0.0);
  expect_close("residual+rmsnorm h, " + types, widen(h.get(), act), rh, rounding_tolerance(act));
}

void test_swiglu(WeightType act) {
  const int T = 5, I = 1000, ld = 2 * I;  // gate and up side by side, as the gate/up group writes them
  const std::vector<float> y = randn(static_cast<size_t>(T) * ld, 3.0f);
  Dev<float> dy(y);
  Dev<uint8_t> out(static_cast<size_t>(T) * I * weight_type_bytes(act));
  launch_swiglu(dy.p, dy.p + I, ld, T, I, out.p, act, nullptr);
  std::vector<double> ref;
  for (int t = 0; t < T; t++)
    for (int i = 0; i < I; i++) {
      const double g = y[t * ld + i], u = y[t * ld + I + i];
      ref.push_back(g / (1.0 + std::exp(-g)) * u);
    }
  expect_close(std::string("swiglu -> ") + name_of(act), widen(out.get(), act), ref, rounding_tolerance(act));
}

}  // namespace

void test_rope_kv(WeightType act, bool bias, int nq, int nk, int hd);
void test_attention_act(WeightType act);

int main() {
  if (const int gate = gpu_test_gate("decode_kernels_test")) return gate;  // skips only without a GPU
  const uint64_t seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  rng().seed(seed);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  for (WeightType w : {WeightType::F16, WeightType::BF16}) {
    test_skinny(w, {37}, 520, 1, false);
    test_skinny(w, {200, 40, 40}, 264, 13, true);
    test_skinny(w, {301, 301}, 1000, 32, false);
    test_skinny(w, {1152, 128, 128}, 896, 8, false);  // qwen2.5-0.5b Q/K/V: split-K
    test_skinny(w, {896}, 4864, 24, false);           // qwen2.5-0.5b down: long K
    test_skinny(w, {17}, 8, 3, true);                 // one step of k, one piece of it
    test_skinny(w, {320}, 64, 32, true);              // the fixtures' lm_head over gathered rows
    test_skinny_batch_invariance(w);
  }
  for (WeightType act : {WeightType::F32, WeightType::F16, WeightType::BF16}) {
    test_embed_rmsnorm(act, act, WeightType::F32);
    test_embed_rmsnorm(act, WeightType::BF16, act);
    test_residual_rmsnorm(act, act);
    test_residual_rmsnorm(act, WeightType::F32);
    test_swiglu(act);
    test_rope_kv(act, true, 6, 2, 64);
    test_rope_kv(act, false, 4, 4, 16);
  }
  test_rope_kv(WeightType::BF16, true, 28, 4, 128);  // qwen2.5-7b heads
  test_attention_act(WeightType::BF16);
  test_attention_act(WeightType::F16);
  CUDA_CHECK(cudaDeviceSynchronize());
  std::printf(failures() ? "%d FAILED\n" : "all decode kernel tests passed\n", failures());
  return failures() ? 1 : 0;
}
