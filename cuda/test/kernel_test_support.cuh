// Helpers for the GPU kernel tests: device buffers poisoned with NaN, random values in any storage dtype
// with their exact f32 values, rounding to a dtype on the host, and a relative-L2 check that counts
// failures. One random generator per test binary, seeded from the clock and printed.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "../kernels/common.cuh"
#include "../kernels/kernels.h"

namespace tidepool::cuda::test {

inline std::mt19937_64& rng() {
  static std::mt19937_64 r;
  return r;
}
inline int& failures() {
  static int n = 0;
  return n;
}

inline std::vector<float> randn(size_t n, float scale = 1.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng());
  return v;
}

template <typename T>
struct Dev {
  T* p = nullptr;
  size_t n = 0;
  explicit Dev(size_t count) : n(count) {
    CUDA_CHECK(cudaMalloc(&p, std::max<size_t>(1, n) * sizeof(T)));
    CUDA_CHECK(cudaMemset(p, 0xFF, std::max<size_t>(1, n) * sizeof(T)));  // NaN poison for floats and halves
  }
  explicit Dev(const std::vector<T>& h) : Dev(h.size()) {
    CUDA_CHECK(cudaMemcpy(p, h.data(), n * sizeof(T), cudaMemcpyHostToDevice));
  }
  ~Dev() { cudaFree(p); }
  Dev(const Dev&) = delete;
  Dev& operator=(const Dev&) = delete;
  std::vector<T> get() const {
    std::vector<T> h(n);
    CUDA_CHECK(cudaMemcpy(h.data(), p, n * sizeof(T), cudaMemcpyDeviceToHost));
    return h;
  }
};

// v rounded to `type` (round to nearest even, as the kernels store).
inline float round_to(WeightType type, float v) {
  if (type == WeightType::F16) return __half2float(__float2half_rn(v));
  if (type == WeightType::BF16) return __bfloat162float(__float2bfloat16_rn(v));
  return v;
}

// Values stored in `type` on the device: `f32` holds their exact values, `bytes` their storage.
struct Stored {
  WeightType type = WeightType::F32;
  std::vector<float> f32;
  std::vector<uint8_t> bytes;
};
inline Stored store(const std::vector<float>& values, WeightType type) {
  Stored s;
  s.type = type;
  s.bytes.resize(values.size() * weight_type_bytes(type));
  for (size_t i = 0; i < values.size(); i++) {
    const float v = round_to(type, values[i]);
    s.f32.push_back(v);
    if (type == WeightType::F32) std::memcpy(&s.bytes[4 * i], &v, 4);
    else if (type == WeightType::F16) {
      const __half h = __float2half_rn(v);
      std::memcpy(&s.bytes[2 * i], &h, 2);
    } else {
      const __nv_bfloat16 h = __float2bfloat16_rn(v);
      std::memcpy(&s.bytes[2 * i], &h, 2);
    }
  }
  return s;
}
inline Stored random_stored(size_t n, WeightType type, float scale = 1.0f) { return store(randn(n, scale), type); }

// Device values of `type` widened to f32.
inline std::vector<float> widen(const std::vector<uint8_t>& bytes, WeightType type) {
  const size_t n = bytes.size() / weight_type_bytes(type);
  std::vector<float> out(n);
  for (size_t i = 0; i < n; i++) {
    if (type == WeightType::F32) std::memcpy(&out[i], &bytes[4 * i], 4);
    else if (type == WeightType::F16) {
      __half h;
      std::memcpy(&h, &bytes[2 * i], 2);
      out[i] = __half2float(h);
    } else {
      __nv_bfloat16 h;
      std::memcpy(&h, &bytes[2 * i], 2);
      out[i] = __bfloat162float(h);
    }
  }
  return out;
}

inline void expect_close(const std::string& what, const std::vector<float>& out, const std::vector<double>& ref,
                         double tol) {
  double num = 0, den = 0;
  bool finite = out.size() == ref.size();
  for (size_t i = 0; i < ref.size() && finite; i++) {
    finite = std::isfinite(out[i]);
    num += (out[i] - ref[i]) * (out[i] - ref[i]);
    den += ref[i] * ref[i];
  }
  const double rel = finite ? std::sqrt(num / std::max(den, 1e-30)) : INFINITY;
  const bool ok = rel <= tol;
  std::printf("%-64s rel %.2e (tol %.0e) %s\n", what.c_str(), rel, tol, ok ? "ok" : "FAIL");
  if (!ok) failures()++;
}

inline void expect(bool ok, const std::string& what) {
  std::printf("%-64s %s\n", what.c_str(), ok ? "ok" : "FAIL");
  if (!ok) failures()++;
}

// Relative L2 tolerance of values rounded once to `type` (half an ulp at most, ~u/sqrt(3) on average).
inline double rounding_tolerance(WeightType type) {
  return type == WeightType::BF16 ? 4e-3 : type == WeightType::F16 ? 1e-3 : 1e-5;
}

}  // namespace tidepool::cuda::test
