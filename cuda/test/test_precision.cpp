// CUDA precision emulation on the CPU backend (backends/precision.h):
//   - f32 -> bf16 / f16 rounding is round-to-nearest-even over every representable value and every
//     midpoint between neighbours (ties to the even one), with f16 subnormals, overflow and NaN;
//   - the activation dtype of a model, and the refusal of models whose linear weights mix dtypes;
//   - TIDEPOOL_CPU_PRECISION accepts f32 and cuda only;
//   - with emulation on, every K/V value in the pool is a bf16 value, the logits stay within a bf16-sized
//     distance of the f32 run, and an f32 checkpoint differs from its f32 run only through the bf16 KV.
#include <cmath>
#include <cstring>
#include <iostream>

#include "cpu/cpu_ops.h"
#include "cpu/precision_emulation.h"
#include "engine_core.h"
#include "precision.h"
#include "test_support.h"

using namespace tidepool;
using namespace tidepool::testing;

namespace {

float from_bits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
uint32_t to_bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, 4);
  return b;
}

// Every finite non-negative value of a 16-bit type round-trips; the midpoint to its successor goes to the
// even neighbour; one f32 ulp either side of it goes to the nearer one. Negative values mirror (sign bit).
template <typename Widen, typename Round>
int check_rounding(const char* name, uint16_t max_finite, Widen widen, Round round) {
  int bad = 0;
  for (uint32_t h = 0; h <= max_finite; h++) {
    for (uint32_t sign : {0u, 0x8000u}) {
      const uint16_t hs = static_cast<uint16_t>(h | sign);
      if (round(widen(hs)) != hs) bad++;
    }
    if (h == max_finite) break;
    const float lo = widen(static_cast<uint16_t>(h)), hi = widen(static_cast<uint16_t>(h + 1));
    const float mid = lo + (hi - lo) / 2;  // exact: one more mantissa bit than the 16-bit type has
    const uint16_t even = static_cast<uint16_t>(h % 2 == 0 ? h : h + 1);
    if (round(mid) != even) bad++;
    if (round(from_bits(to_bits(mid) - 1)) != h) bad++;
    if (round(from_bits(to_bits(mid) + 1)) != h + 1) bad++;
    if (round(-mid) != (even | 0x8000)) bad++;
  }
  std::cout << name << ": " << (bad ? "FAILED " : "") << bad << " wrong roundings over every value and midpoint\n";
  return bad;
}

void check_special_values() {
  CHECK(float_to_half_bits(65504.0f) == 0x7bff);
  CHECK(float_to_half_bits(65519.996f) == 0x7bff);  // below the midpoint to 65536
  CHECK(float_to_half_bits(65520.0f) == 0x7c00);    // the midpoint ties to even: infinity
  CHECK(float_to_half_bits(-1e9f) == 0xfc00);
  CHECK(float_to_half_bits(INFINITY) == 0x7c00);
  CHECK(float_to_half_bits(std::ldexp(1.0f, -25)) == 0x0000);                   // tie between 0 and 2^-24: zero
  CHECK(float_to_half_bits(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 1);  // just above: smallest subnormal
  CHECK(float_to_half_bits(std::ldexp(1.0f, -24) * 3) == 3);
  CHECK(std::isnan(round_to(DType::F16, NAN)) && std::isnan(round_to(DType::BF16, NAN)));
  CHECK(float_to_bf16_bits(3.4e38f) == 0x7f80);  // rounds past the largest bf16: infinity
  CHECK(round_to(DType::F32, 0.1f) == 0.1f);
}

void check_activation_dtype() {
  for (const char* dtype : {"F32", "BF16", "F16"}) {
    SynthSpec spec;
    spec.dtype = dtype;
    const std::string dir = make_temp_dir("act");
    write_synthetic_model(dir, spec);
    CHECK(dtype_name(activation_dtype(*load_model_dir(dir))) == std::string(dtype));
  }
  SynthSpec spec;
  const std::string dir = make_temp_dir("act-mixed");
  write_synthetic_model(dir, spec);
  auto model = load_model_dir(dir);
  TensorView odd = *model->layers[1].down;
  odd.dtype = DType::BF16;
  odd.dtype_label = "BF16";
  model->layers[1].down = &odd;
  bool refused = false;
  try {
    activation_dtype(*model);
  } catch (const EngineError& e) {
    refused = e.code() == "unsupported" && std::string(e.what()).find(odd.name) != std::string::npos;
  }
  CHECK(refused);
}

void check_env_values() {
  ::setenv(kCpuPrecisionEnv, "bf16", 1);
  bool refused = false;
  try {
    make_cpu_backend(BackendOptions{});
  } catch (const EngineError& e) {
    refused = e.code() == "bad_request" && std::string(e.what()).find("'bf16'") != std::string::npos;
  }
  CHECK(refused);
  ::setenv(kCpuPrecisionEnv, "cuda", 1);
  CHECK(make_cpu_backend(BackendOptions{})->device_name().find("(cuda precision)") != std::string::npos);
  ::setenv(kCpuPrecisionEnv, "f32", 1);
  CHECK(make_cpu_backend(BackendOptions{})->device_name().find("(cuda precision)") == std::string::npos);
  ::unsetenv(kCpuPrecisionEnv);
}

struct Pass {
  std::vector<float> logits;  // (prompt, vocab)
  std::vector<float> kv;      // the sequence's pages, as f32 values
};

// One prefill of `prompt` through the backend interface (no engine core), all logits returned.
Pass prefill(const std::string& dir, const std::vector<int32_t>& prompt, bool emulate) {
  auto model = load_model_dir(dir);
  BackendOptions options;
  options.threads = 1;
  options.emulate_cuda_precision = emulate;
  auto backend = make_cpu_backend(options);
  const size_t page_bytes = 64 << 10;
  const KvLayout layout = make_kv_layout(model->config, 4, page_bytes, backend->kv_element_bytes());
  const int n_pages = static_cast<int>((prompt.size() + 3) / 4) * layout.pages_per_block;
  backend->init_kv_pool(static_cast<size_t>(n_pages), page_bytes);
  const int slot = backend->load_slot(*model, layout);
  std::vector<int32_t> pages(n_pages);
  for (int i = 0; i < n_pages; i++) pages[i] = n_pages - 1 - i;
  BatchEntry e;
  e.tokens = prompt.data();
  e.n_tokens = static_cast<int>(prompt.size());
  e.pages = pages.data();
  e.n_pages = n_pages;
  e.all_logits = true;
  Pass p;
  p.logits.resize(prompt.size() * model->config.vocab_size);
  backend->forward(slot, {e}, p.logits.data());
  p.kv.resize(static_cast<size_t>(n_pages) * page_bytes / 4);
  backend->kv_to_host(pages, reinterpret_cast<uint8_t*>(p.kv.data()));
  return p;
}

double rel_max(const std::vector<float>& a, const std::vector<float>& b) {
  double diff = 0, ref = 0;
  for (size_t i = 0; i < a.size(); i++) {
    diff = std::max(diff, std::fabs(static_cast<double>(a[i]) - b[i]));
    ref = std::max(ref, std::fabs(static_cast<double>(b[i])));
  }
  return diff / ref;
}

bool all_bf16(const std::vector<float>& v) {
  for (float f : v)
    if (to_bits(f) & 0xffffu) return false;
  return true;
}

// bf16 and f16 tolerances: a few units of roundoff of the activation type relative to the largest logit
// (u = 2^-9 for bf16, 2^-11 for f16; the KV alone is bf16).
void check_emulated_forward(const std::string& dtype, double max_rel) {
  SynthSpec spec;
  spec.dtype = dtype;
  spec.seed = 11;
  const std::string dir = make_temp_dir("emulate");
  write_synthetic_model(dir, spec);
  const std::vector<int32_t> prompt = {3, 141, 59, 26, 5, 35, 89, 79, 32, 38, 46};
  const Pass plain = prefill(dir, prompt, false), emulated = prefill(dir, prompt, true);
  const double rel = rel_max(emulated.logits, plain.logits);
  std::cout << dtype << " model: emulated vs f32 logits rel " << rel << " (<= " << max_rel << "), KV "
            << (all_bf16(emulated.kv) ? "all bf16 values" : "NOT bf16") << "\n";
  CHECK(all_bf16(emulated.kv));
  CHECK(!all_bf16(plain.kv));
  CHECK(rel > 0 && rel <= max_rel);
}

}  // namespace

int main() {
  int bad = check_rounding("bf16", 0x7f7f, bf16_to_float, float_to_bf16_bits);
  bad += check_rounding("f16", 0x7bff, half_to_float, float_to_half_bits);
  CHECK(bad == 0);
  check_special_values();
  check_activation_dtype();
  check_env_values();
  check_emulated_forward("F32", 1e-2);
  check_emulated_forward("BF16", 4e-2);
  check_emulated_forward("F16", 1e-2);
  std::cout << "PASS\n";
  return 0;
}
