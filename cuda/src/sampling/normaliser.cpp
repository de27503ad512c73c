// Host normaliser passes (see normaliser.h). The vector paths process 8 ids per iteration; the scalar
// form handles the tail, listed (sparse) masks and non-x86 builds with the same operations.
#include "normaliser.h"

#include <cmath>
#include <cstring>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define TIDEPOOL_X86 1
#endif

namespace tidepool {

namespace {

constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;      // few mantissa bits: k * kLn2Hi is exact for |k| <= 126
constexpr float kLn2Lo = -2.12194440e-4f;
constexpr float kMinArgument = -87.0f;      // exp(-87) is still a normal float
// exp(r) = 1 + r + r^2 * P(r) on |r| <= ln(2) / 2 (Cephes expf's minimax coefficients)
constexpr float kP0 = 1.9875691500e-4f, kP1 = 1.3981999507e-3f, kP2 = 8.3334519073e-3f, kP3 = 4.1665795894e-2f,
                kP4 = 1.6666665459e-1f, kP5 = 5.0000001201e-1f;

struct Sums {
  double z = 0;        // sum of exp(x)
  double weighted = 0; // sum of |x| * exp(x), for the bound
  double terms = 0;    // how many ids were summed
};

double bound_of(const Sums& s) {
  const double argument = kArgumentRelError * s.weighted * 1.01;  // the float sum of weights may be 0.1% low
  const double summation = s.terms * 1.2e-16 * s.z;  // double rounding, n terms
  const double dropped = s.terms * 1.7e-38;          // terms under exp(-87)
  return 1.01 * (kFastExpRelError * s.z + argument + summation + dropped) + 1e-300;
}

void add_scalar(Sums& s, float logit, float max, float inv_t) {
  const float x = (logit - max) * inv_t;
  if (!(x >= kMinArgument)) return;  // also drops NaN and -inf
  const float e = fast_exp(x);
  s.z += e;
  s.weighted += static_cast<double>(-x) * e;
}

#ifdef TIDEPOOL_X86

// 8 lanes with AVX2 + FMA.
__attribute__((target("avx2,fma"))) inline __m256 exp8(__m256 x) {
  const __m256 k = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(k, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(kP0);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP1));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP2));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP3));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP4));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(kP5));
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

__attribute__((target("avx2,fma"))) Sums sum_avx2(const float* l, int32_t n, const uint64_t* bits, float max, float inv_t) {
  __m256d z0 = _mm256_setzero_pd(), z1 = z0;
  __m256 w = _mm256_setzero_ps();
  const __m256 vmax = _mm256_set1_ps(max), vinv = _mm256_set1_ps(inv_t), lo = _mm256_set1_ps(kMinArgument);
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
  Sums s;
  for (int j = 0; j < 8; j++) {
    s.z += zs[j];
    s.weighted += ws[j];
  }
  for (; i < n; i++)
    if (!bits || ((bits[i >> 6] >> (i & 63)) & 1)) add_scalar(s, l[i], max, inv_t);
  s.terms = n;
  return s;
}

// 4 lanes with SSE2, no FMA: the same reduction and polynomial, each product rounded.
inline __m128 exp4(__m128 x) {
  const __m128 k = _mm_cvtepi32_ps(_mm_cvtps_epi32(_mm_mul_ps(x, _mm_set1_ps(kLog2e))));
  __m128 r = _mm_sub_ps(x, _mm_mul_ps(k, _mm_set1_ps(kLn2Hi)));
  r = _mm_sub_ps(r, _mm_mul_ps(k, _mm_set1_ps(kLn2Lo)));
  __m128 p = _mm_set1_ps(kP0);
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP1));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP2));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP3));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP4));
  p = _mm_add_ps(_mm_mul_ps(p, r), _mm_set1_ps(kP5));
  p = _mm_add_ps(_mm_mul_ps(p, _mm_mul_ps(r, r)), _mm_add_ps(r, _mm_set1_ps(1.0f)));
  const __m128i scale = _mm_slli_epi32(_mm_cvtps_epi32(k), 23);
  return _mm_castsi128_ps(_mm_add_epi32(_mm_castps_si128(p), scale));
}

inline __m128 lanes_of4(uint32_t nibble) {
  const __m128i bit = _mm_setr_epi32(1, 2, 4, 8);
  const __m128i v = _mm_and_si128(_mm_set1_epi32(static_cast<int>(nibble)), bit);
  return _mm_castsi128_ps(_mm_cmpeq_epi32(v, bit));
}

Sums sum_sse2(const float* l, int32_t n, const uint64_t* bits, float max, float inv_t) {
  __m128d z0 = _mm_setzero_pd(), z1 = z0;
  __m128 w = _mm_setzero_ps();
  const __m128 vmax = _mm_set1_ps(max), vinv = _mm_set1_ps(inv_t), lo = _mm_set1_ps(kMinArgument);
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
  Sums s;
  for (int j = 0; j < 4; j++) {
    s.z += zs[j];
    s.weighted += ws[j];
  }
  for (; i < n; i++)
    if (!bits || ((bits[i >> 6] >> (i & 63)) & 1)) add_scalar(s, l[i], max, inv_t);
  s.terms = n;
  return s;
}

bool cpu_has_avx2() {
  __builtin_cpu_init();  // static initialisers may run before the runtime's own
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

const bool kCpuHasAvx2 = cpu_has_avx2();
bool use_avx2 = kCpuHasAvx2;  // changed only by use_vector_path (tests, bench), before sampling starts

bool has_avx2() { return use_avx2; }

#endif  // TIDEPOOL_X86

Sums sum_dense(const float* l, int32_t n, const uint64_t* bits, float max, float inv_t) {
#ifdef TIDEPOOL_X86
  return has_avx2() ? sum_avx2(l, n, bits, max, inv_t) : sum_sse2(l, n, bits, max, inv_t);
#else
  Sums s;
  for (int32_t i = 0; i < n; i++)
    if (!bits || ((bits[i >> 6] >> (i & 63)) & 1)) add_scalar(s, l[i], max, inv_t);
  s.terms = n;
  return s;
#endif
}

}  // namespace

const char* use_vector_path(bool best) {
#ifdef TIDEPOOL_X86
  use_avx2 = best && kCpuHasAvx2;
  return use_avx2 ? "avx2" : "sse2";
#else
  (void)best;
  return "scalar";
#endif
}

float fast_exp(float x) {
  if (!(x >= kMinArgument)) return 0;
  const float k = std::nearbyint(x * kLog2e);
  float r = x - k * kLn2Hi;
  r = r - k * kLn2Lo;
  float p = kP0;
  p = p * r + kP1;
  p = p * r + kP2;
  p = p * r + kP3;
  p = p * r + kP4;
  p = p * r + kP5;
  p = p * (r * r) + (r + 1.0f);
  int32_t bits;
  std::memcpy(&bits, &p, 4);
  bits += static_cast<int32_t>(k) << 23;
  std::memcpy(&p, &bits, 4);
  return p;
}

Normaliser fast_normaliser(const RowView& row, float max, float temperature) {
  const float inv_t = 1.0f / temperature;
  Sums s;
  if (row.mask && row.mask->listed) {
    for (int32_t id : row.mask->ids) add_scalar(s, row.logits[id], max, inv_t);
    s.terms = static_cast<double>(row.mask->ids.size());
  } else {
    s = sum_dense(row.logits, row.vocab, row.mask ? row.mask->bits.data() : nullptr, max, inv_t);
  }
  return {s.z, bound_of(s)};
}

double exact_normaliser(const RowView& row, float max, float temperature) {
  double z = 0;
  auto term = [&](int32_t id) { z += std::exp((static_cast<double>(row.logits[id]) - max) / temperature); };
  if (row.mask && row.mask->listed) {
    for (int32_t id : row.mask->ids) term(id);
  } else {
    for (int32_t id = 0; id < row.vocab; id++)
      if (!row.mask || row.mask->allows(id)) term(id);
  }
  return z;
}

}  // namespace tidepool
