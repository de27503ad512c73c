#include "cpu_ops.h"

#include <cmath>
#include <cstring>
#include <vector>

#include "thread_pool.h"

namespace tidepool {

namespace {

uint32_t half_bits_to_float_bits(uint16_t h) {
  uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1F;
  uint32_t mant = h & 0x3FF;
  if (exp == 0) {
    if (mant == 0) return sign;
    int e = 113;  // subnormal: normalize the mantissa
    while (!(mant & 0x400)) {
      mant <<= 1;
      e--;
    }
    return sign | (static_cast<uint32_t>(e) << 23) | ((mant & 0x3FF) << 13);
  }
  if (exp == 31) return sign | 0x7F800000 | (mant << 13);
  return sign | ((exp + 112) << 23) | (mant << 13);
}

struct HalfTable {
  std::vector<float> values;
  HalfTable() : values(65536) {
    for (uint32_t h = 0; h < 65536; h++) {
      uint32_t bits = half_bits_to_float_bits(static_cast<uint16_t>(h));
      std::memcpy(&values[h], &bits, 4);
    }
  }
};

const HalfTable& half_table() {
  static const HalfTable table;
  return table;
}

}  // namespace

float half_to_float(uint16_t h) { return half_table().values[h]; }

float bf16_to_float(uint16_t b) {
  uint32_t bits = static_cast<uint32_t>(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

const float* tensor_row_f32(const TensorView& t, int64_t row, int64_t cols, float* scratch) {
  const size_t offset = static_cast<size_t>(row) * cols;
  const uint8_t* bytes = t.data + offset * dtype_bytes(t.dtype);
  const bool aligned = reinterpret_cast<uintptr_t>(bytes) % dtype_bytes(t.dtype) == 0;
  if (t.dtype == DType::F32) {
    if (aligned) return reinterpret_cast<const float*>(bytes);
    std::memcpy(scratch, bytes, cols * sizeof(float));  // writers need not align tensors
    return scratch;
  }
  const float* table = half_table().values.data();
  for (int64_t i = 0; i < cols; i++) {
    uint16_t h;
    std::memcpy(&h, bytes + 2 * i, 2);
    scratch[i] = t.dtype == DType::BF16 ? bf16_to_float(h) : table[h];
  }
  return scratch;
}

float dot_f32(const float* a, const float* b, int n) {
  float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; k++) s[k] += a[i + k] * b[i + k];
  float r = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; i < n; i++) r += a[i] * b[i];
  return r;
}

void rms_norm(const float* x, int T, int n, const TensorView& weight, float eps, float* out) {
  std::vector<float> wbuf(n);
  const float* w = tensor_row_f32(weight, 0, n, wbuf.data());
  for (int t = 0; t < T; t++) {
    const float* row = x + static_cast<size_t>(t) * n;
    double ss = 0;
    for (int i = 0; i < n; i++) ss += static_cast<double>(row[i]) * row[i];
    float inv = 1.0f / std::sqrt(static_cast<float>(ss / n) + eps);
    float* o = out + static_cast<size_t>(t) * n;
    for (int i = 0; i < n; i++) o[i] = w[i] * (row[i] * inv);
  }
}

void matmul(ThreadPool& pool, const float* X, int T, int in_dim, const TensorView& W, const TensorView* bias, float* Y,
            int out_dim) {
  std::vector<float> bias_buf;
  const float* b = nullptr;
  if (bias) {
    bias_buf.resize(out_dim);
    b = tensor_row_f32(*bias, 0, out_dim, bias_buf.data());
  }
  pool.parallel_for(static_cast<size_t>(out_dim), [&](size_t begin, size_t end) {
    thread_local std::vector<float> row_buf;
    if (row_buf.size() < static_cast<size_t>(in_dim)) row_buf.resize(in_dim);
    for (size_t j = begin; j < end; j++) {
      const float* w = tensor_row_f32(W, static_cast<int64_t>(j), in_dim, row_buf.data());
      const float bj = b ? b[j] : 0.0f;
      for (int t = 0; t < T; t++)
        Y[static_cast<size_t>(t) * out_dim + j] = dot_f32(X + static_cast<size_t>(t) * in_dim, w, in_dim) + bj;
    }
  });
}

void rope(float* v, int n_heads, int head_dim, int pos, const float* inv_freq) {
  const int half = head_dim / 2;
  for (int i = 0; i < half; i++) {
    const float angle = static_cast<float>(pos) * inv_freq[i];
    const float c = static_cast<float>(std::cos(static_cast<double>(angle)));
    const float s = static_cast<float>(std::sin(static_cast<double>(angle)));
    for (int h = 0; h < n_heads; h++) {
      float* x = v + static_cast<size_t>(h) * head_dim;
      const float a = x[i], b = x[i + half];
      x[i] = a * c - b * s;
      x[i + half] = b * c + a * s;
    }
  }
}

float silu(float x) { return x / (1.0f + std::exp(-x)); }

}  // namespace tidepool
