// The vector exp passes (see fast_exp.h). The vector paths process 8 (AVX2) or 4 (SSE2) ids per
// iteration; the scalar forms handle tails, listed masks and non-x86 builds.
#include "fast_exp.h"

#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>

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

// std::fma rounds once, as the vector FMA does; the Fused form is only used where the CPU has FMA, so it
// is compiled to the instruction rather than a libm call.
#ifdef TIDEPOOL_X86
__attribute__((target("fma")))
#endif
float exp_fused(float x) {
  const float k = std::nearbyint(x * kLog2e);
  float r = std::fma(-k, kLn2Hi, x);
  r = std::fma(-k, kLn2Lo, r);
  float p = kP0;
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = std::fma(p, r, c);
  return scale_by_power_of_two(std::fma(p, r * r, r + 1.0f), k);
}

// Arguments below kMinExpArgument (and NaN, -inf) count as kMinExpArgument, as in the vector lanes: a
// term of at most 1.7e-38, which the bound carries.
float clamp_argument(float x) { return x >= kMinExpArgument ? x : kMinExpArgument; }

void add_term(ExpSums& s, float logit, float max, float inv_t) {
  const float x = clamp_argument(exp_argument(logit, max, inv_t));
  const float e = fast_exp(x, s.form);
  s.z += e;
  s.weighted += static_cast<double>(-x) * e;
}

bool allowed(const uint64_t* bits, int32_t i) { return !bits || ((bits[i >> 6] >> (i & 63)) & 1); }

#ifdef TIDEPOOL_X86

__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 k =
      _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
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

__attribute__((target("avx2,fma"))) ExpSums sum_avx2(const float* l, int32_t n, const uint64_t* bits, float max,
                                                     float inv_t) {
  __m256d z0 = _mm256_setzero_pd(), z1 = z0;
  __m256 w = _mm256_setzero_ps();
  const __m256 vmax = _mm256_set1_ps(max), vinv = _mm256_set1_ps(inv_t), lo = _mm256_set1_ps(kMinExpArgument);
  int32_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const __m256 xc = _mm256_max_ps(_mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(l + i), vmax), vinv), lo);  // NaN -> lo
    __m256 e = exp8(xc);
    if (bits) e = _mm256_and_ps(e, lanes_of((bits[i >> 6] >> (i & 63)) & 0xFF));
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

// GCC 12's AVX-512 intrinsics pass an uninitialised "undefined" vector to their masked builtins, which
// -Wmaybe-uninitialized reports once inlined here; the value is never read.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

__attribute__((target("avx512f"))) inline __m512 exp16(__m512 x) {
  const __m512 k =
      _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Hi), x);
  r = _mm512_fnmadd_ps(k, _mm512_set1_ps(kLn2Lo), r);
  __m512 p = _mm512_set1_ps(kP0);
  for (float c : {kP1, kP2, kP3, kP4, kP5}) p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(c));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  const __m512i scale = _mm512_slli_epi32(_mm512_cvtps_epi32(k), 23);
  return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(p), scale));
}

// 16 lanes with AVX-512: the AVX2 lanes' arithmetic (ExpForm::Fused), twice as wide; masks are the
// bitset's own 16 bits.
__attribute__((target("avx512f"))) ExpSums sum_avx512(const float* l, int32_t n, const uint64_t* bits, float max,
                                                      float inv_t) {
  __m512d z0 = _mm512_setzero_pd(), z1 = z0;
  __m512 w = _mm512_setzero_ps();
  const __m512 vmax = _mm512_set1_ps(max), vinv = _mm512_set1_ps(inv_t), lo = _mm512_set1_ps(kMinExpArgument);
  int32_t i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512 xc = _mm512_max_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(l + i), vmax), vinv), lo);  // NaN -> lo
    __m512 e = exp16(xc);
    if (bits) e = _mm512_maskz_mov_ps(static_cast<__mmask16>((bits[i >> 6] >> (i & 63)) & 0xFFFF), e);
    z0 = _mm512_add_pd(z0, _mm512_cvtps_pd(_mm512_castps512_ps256(e)));
    z1 = _mm512_add_pd(z1, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(e), 1))));
    w = _mm512_fnmadd_ps(xc, e, w);
  }
  ExpSums s;
  s.form = ExpForm::Fused;
  s.z = _mm512_reduce_add_pd(_mm512_add_pd(z0, z1));
  s.weighted = _mm512_reduce_add_ps(w);
  for (; i < n; i++)
    if (allowed(bits, i)) add_term(s, l[i], max, inv_t);
  return s;
}

#pragma GCC diagnostic pop

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
    const __m128 xc = _mm_max_ps(_mm_mul_ps(_mm_sub_ps(_mm_loadu_ps(l + i), vmax), vinv), lo);  // NaN -> lo
    __m128 e = exp4(xc);
    if (bits) e = _mm_and_ps(e, lanes_of4((bits[i >> 6] >> (i & 63)) & 0xF));
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

enum class VectorPath { Sse2, Avx2, Avx512 };

VectorPath best_path() {
  __builtin_cpu_init();  // static initialisers may run before the runtime's own
  if (__builtin_cpu_supports("avx512f")) return VectorPath::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return VectorPath::Avx2;
  return VectorPath::Sse2;
}

const VectorPath kBestPath = best_path();
VectorPath path = kBestPath;  // changed only by use_vector_path (tests, bench), before sampling starts

#endif  // TIDEPOOL_X86

}  // namespace

float fast_exp(float x, ExpForm form) {
  x = clamp_argument(x);
  return form == ExpForm::Fused ? exp_fused(x) : exp_plain(x);
}

ExpSums sum_exp_dense(const float* l, int32_t n, const uint64_t* bits, float max, float inv_t) {
  ExpSums s;
#ifdef TIDEPOOL_X86
  switch (path) {
    case VectorPath::Avx512:
      s = sum_avx512(l, n, bits, max, inv_t);
      break;
    case VectorPath::Avx2:
      s = sum_avx2(l, n, bits, max, inv_t);
      break;
    case VectorPath::Sse2:
      s = sum_sse2(l, n, bits, max, inv_t);
      break;
  }
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

const char* use_vector_path(const char* name) {
#ifdef TIDEPOOL_X86
  const std::string want = name ? name : "best";
  if (want == "best") path = kBestPath;
  else if (want == "avx512" && kBestPath == VectorPath::Avx512) path = VectorPath::Avx512;
  else if (want == "avx2" && kBestPath != VectorPath::Sse2) path = VectorPath::Avx2;
  else if (want == "sse2") path = VectorPath::Sse2;
  else return nullptr;
  return path == VectorPath::Avx512 ? "avx512" : path == VectorPath::Avx2 ? "avx2" : "sse2";
#else
  return std::string(name ? name : "best") == "best" ? "scalar" : nullptr;
#endif
}

}  // namespace tidepool
