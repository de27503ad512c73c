// The vector exp passes (see fast_exp.h). The vector paths process 8 (AVX2) or 4 (SSE2) ids per
// iteration; the scalar forms handle tails, listed masks and non-x86 builds.
#include "fast_exp.h"

#include <cmath>
#include <cstring>
#include <initializer_list>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TIDEPOOL_X86 1
#endif

namespace tidepool {

namespace {

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;  // few mantissa bits: k * kLn2Hi is exact for |k| <= 126
constexpr float kLn2Lo = -2.12194440e-4f;
// exp(r) = 1 + r + r^2 * P(r) on |r| <= ln(2) / 2 (Cephes expf's minimax coefficients)
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

float scale_by_power_of_two(float p, float k) {
  int32_t bits;
  std::memcpy(&bits, &p, 4);
  bits += static_cast<int32_t>(k) << 23;
  std::memcpy(&p, &bits, 4);
  return p;
}

float exp_plain(float x) {
  const float k = std::nearbyint(x * kLog2e);
  float r = x - k * kLn2Hi;
  r = r - k * kLn2Lo;
  float p = kP0;
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = p * r + c;
  return scale_by_power_of_two(p * (r * r) + (r + 1.0f), k);
}

// std::fma rounds once, as the vector FMA does.
float exp_fused(float x) {
  const float k = std::nearbyint(x * kLog2e);
  float r = std::fma(-k, kLn2Hi, x);
  r = std::fma(-k, kLn2Lo, r);
  float p = kP0;
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = std::fma(p, r, c);
  return scale_by_power_of_two(std::fma(p, r * r, r + 1.0f), k);
}

void add_term(ExpSums& s, float logit, float max, float inv_t) {
  const float x = exp_argument(logit, max, inv_t);
  if (!(x >= kMinExpArgument)) return;  // also drops NaN and -inf
  const float e = fast_exp(x, s.form);
  s.z += e;
  s.weighted += static_cast<double>(-x) * e;
}

bool allowed(const uint64_t* bits, int32_t i) { return !bits || ((bits[i >> 6] >> (i & 63)) & 1); }

#ifdef TIDEPOOL_X86

__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(c));
  p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
  const __m256i scale = _mm256_slli_epi32(_mm256_cvtps_epi32(k), 23);
  return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(p), scale));
}

// All-ones lanes where bit j of `byte` is set.
__attribute__((target("avx2,fma"))) inline __m256 lanes_of(uint32_t byte) {
  const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
  const __m256i v = _mm256_and_si256(_mm256_set1_epi32(static_cast<int>(byte)), bit);
  return _mm256_castsi256_ps(_mm256_cmpeq_epi32(v, bit));
}

__attribute__((target("avx2,fma"))) ExpSums sum_avx2(const float* l, int32_t n, const uint64_t* bits, float max, float inv_t) {
  __m256d z0 = _mm256_setzero_pd(), z1 = z0;
  __m256 w = _mm256_setzero_ps();
  const __m256 vmax = _mm256_set1_ps(max), vinv = _mm256_set1_ps(inv_t), lo = _mm256_set1_ps(kMinExpArgument);
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 x = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(l + i), vmax), vinv);
    __m256 keep = _mm256_cmp_ps(x, lo, _CMP_GE_OQ);
    if (bits) keep = _mm256_and_ps(keep, lanes_of((bits[i >> 6] >> (i & 63)) & 0xFF));
    const __m256 xc = _mm256_max_ps(x, lo);
    const __m256 e = _mm256_and_ps(exp8(xc), keep);
    z0 = _mm256_add_pd(z0, _mm256_cvtps_pd(_mm256_castps256_ps128(e)));
    z1 = _mm256_add_pd(z1, _mm256_cvtps_pd(_mm256_extractf128_ps(e, 1)));
    w = _mm256_fnmadd_ps(xc, e, w);
  }
  alignas(32) double zs[8];
  alignas(32) float ws[8];
  _mm256_store_pd(zs, z0);
  _mm256_store_pd(zs + 4, z1);
  _mm256_store_ps(ws, w);
  ExpSums s;
  s.form = ExpForm::Fused;
  for (int j = 0; j < 8; j++) {
    s.z += zs[j];
    s.weighted += ws[j];
  }
  for (; i < n; i++)
    if (allowed(bits, i)) add_term(s, l[i], max, inv_t);
  return s;
}

inline __m128 exp4(__m128 x) {
  const __m128 k = _mm_cvtepi32_ps(_mm_cvtps_epi32(_mm_mul_ps(x, _mm_set1_ps(kLog2e))));
  __m128 r = _mm_sub_ps(x, _mm_mul_ps(k, _mm_set1_ps(kLn2Hi)));
  r = _mm_sub_ps(r, _mm_mul_ps(k, _mm_set1_ps(kLn2Lo)));
  __m128 p = _mm_set1_ps(kP0);
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(c));
  p = _mm_add_ps(_mm_mul_ps(p, _mm_mul_ps(r, r)), _mm_add_ps(r, _mm_set1_ps(1.0f)));
  const __m128i scale = _mm_slli_epi32(_mm_cvtps_epi32(k), 23);
  return _mm_castsi128_ps(_mm_add_epi32(_mm_castps_si128(p), scale));
}

inline __m128 lanes_of4(uint32_t nibble) {
  const __m128i bit = _mm_setr_epi32(1, 2, 4, 8);
  const __m128i v = _mm_and_si128(_mm_set1_epi32(static_cast<int>(nibble)), bit);
  return _mm_castsi128_ps(_mm_cmpeq_epi32(v, bit));
}

ExpSums sum_sse2(const float* l, int32_t n, const uint64_t* bits, float max, float inv_t) {
  __m128d z0 = _mm_setzero_pd(), z1 = z0;
  __m128 w = _mm_setzero_ps();
  const __m128 vmax = _mm_set1_ps(max), vinv = _mm_set1_ps(inv_t), lo = _mm_set1_ps(kMinExpArgument);
  int32_t i = 0;
  for (; i + 4 <= n; i += 4) {
    const __m128 x = _mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(l + i), vmax), vinv);
    __m128 keep = _mm_cmpge_ps(x, lo);
    if (bits) keep = _mm_and_ps(keep, lanes_of4((bits[i >> 6] >> (i & 63)) & 0xF));
    const __m128 xc = _mm_max_ps(x, lo);
    const __m128 e = _mm_and_ps(exp4(xc), keep);
    z0 = _mm_add_pd(z0, _mm_cvtps_pd(e));
    z1 = _mm_add_pd(z1, _mm_cvtps_pd(_mm_movehl_ps(e, e)));
    w = _mm_sub_ps(w, _mm_mul_ps(xc, e));
  }
  alignas(16) double zs[4];
  alignas(16) float ws[4];
  _mm_store_pd(zs, z0);
  _mm_store_pd(zs + 2, z1);
  _mm_store_ps(ws, w);
  ExpSums s;
  for (int j = 0; j < 4; j++) {
    s.z += zs[j];
    s.weighted += ws[j];
  }
  for (; i < n; i++)
    if (allowed(bits, i)) add_term(s, l[i], max, inv_t);
  return s;
}

bool cpu_has_avx2() {
  __builtin_cpu_init();  // static initialisers may run before the runtime's own
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const bool kCpuHasAvx2 = cpu_has_avx2();
bool use_avx2 = kCpuHasAvx2;  // changed only by use_vector_path (tests, bench), before sampling starts

#endif  // TIDEPOOL_X86

}  // namespace

float fast_exp(float x, ExpForm form) {
  if (!(x >= kMinExpArgument)) return 0;
  return form == ExpForm::Fused ? exp_fused(x) : exp_plain(x);
}

ExpSums sum_exp_dense(const float* l, int32_t n, const uint64_t* bits, float max, float inv_t) {
  ExpSums s;
#ifdef TIDEPOOL_X86
  s = use_avx2 ? sum_avx2(l, n, bits, max, inv_t) : sum_sse2(l, n, bits, max, inv_t);
#else
  for (int32_t i = 0; i < n; i++)
    if (allowed(bits, i)) add_term(s, l[i], max, inv_t);
#endif
  s.terms = n;
  return s;
}

ExpSums sum_exp_listed(const float* l, const int32_t* ids, int32_t n, float max, float inv_t) {
  ExpSums s;
  for (int32_t i = 0; i < n; i++) add_term(s, l[ids[i]], max, inv_t);
  s.terms = n;
  return s;
}

const char* use_vector_path(bool best) {
#ifdef TIDEPOOL_X86
  use_avx2 = best && kCpuHasAvx2;
  return use_avx2 ? "avx2" : "sse2";
#else
  (void)best;
  return "scalar";
#endif
}

}  // namespace tidepool
