// Sampling inputs prepared on the device (contract in sampling_prep.h): one block per sequence row.
//   Stage 1 copies the raw row to `processed` and edits it in the host sampler's order and float
//   arithmetic (logit_bias; repetition, frequency, presence penalties; -inf masks), unfused operations so
//   the rounding is the host's. Stage 2 finds the count-th best unmasked key by a 4-pass 8-bit radix
//   select, gathers the entries above it (and at or above the floor) and the ties at it, and sorts them
//   (processed logit descending, lower id first) with a bitonic sort in shared memory, keeping as many
//   ties, lowest ids first, as complete the count. The
//   normaliser is summed in double with the device's exp (at most 1 ulp off) under a bound that covers the
//   exp error, the argument's rounding and any summation order. The raw distribution takes the same
//   selection over the raw row and its log-normaliser in double.

#include "common.cuh"
#include "sampling_prep.h"
#include "sampling_select.h"

namespace tidepool::cuda {

namespace {

using namespace sampling_select;

constexpr int kThreads = 1024;
constexpr int kSort = 2 * kPrepMaxCandidates;     // sort buffer: the candidates and the ties that complete them
constexpr double kUnit = 1.1102230246251565e-16;  // 2^-53, double's unit roundoff

struct SelectShared {
  int hist[256];
  uint64_t entries[kSort];
  int32_t ties[kPrepMaxCandidates];  // ids at the cut, in no order
  int n_above, n_ties, digit, remaining, total;
};

__device__ double block_sum_double(double v, double* scratch) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  __syncthreads();  // scratch may still be read by a previous call
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = v;
  __syncthreads();
  double total = threadIdx.x < blockDim.x / 32 ? scratch[threadIdx.x] : 0.0;
  for (int o = 16; o > 0; o >>= 1) total += __shfl_xor_sync(0xffffffffu, total, o);
  return total;
}

// Sorts sh.entries[0, kSort) descending (bitonic network; every thread of the block takes part).
__device__ void sort_entries(uint64_t* e) {
  for (int size = 2; size <= kSort; size <<= 1)
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      __syncthreads();
      for (int i = threadIdx.x; i < kSort; i += blockDim.x) {
        const int j = i ^ stride;
        if (j <= i) continue;
        const bool descending = (i & size) == 0;
        if ((e[i] < e[j]) == descending) {
          const uint64_t t = e[i];
          e[i] = e[j];
          e[j] = t;
        }
      }
    }
  __syncthreads();
}

// The count-th best key among eligible entries (radix select), or 0 when at most `count` are eligible
// (then every eligible entry is taken). Sets sh.remaining to how many entries at that key are needed.
template <typename Eligible>
__device__ uint32_t kth_key(const float* row, int vocab, Eligible eligible, int count, SelectShared& sh) {
  uint32_t prefix = 0, mask = 0;
  int remaining = count;
  for (int shift = 24; shift >= 0; shift -= 8) {
    for (int i = threadIdx.x; i < 256; i += blockDim.x) sh.hist[i] = 0;
    __syncthreads();
    for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
      if (!eligible(i)) continue;
      const uint32_t k = order_key(row[i]);
      if ((k & mask) == prefix) atomicAdd(&sh.hist[(k >> shift) & 255], 1);
    }
    __syncthreads();
    if (threadIdx.x == 0) {
      if (shift == 24) sh.total = histogram_total(sh.hist);
      sh.digit = radix_digit(sh.hist, remaining, sh.remaining);
    }
    __syncthreads();
    if (sh.total <= count) return 0;
    prefix |= static_cast<uint32_t>(sh.digit) << shift;
    mask |= 0xFFu << shift;
    remaining = sh.remaining;
  }
  return prefix;
}

// The best `count` eligible entries and every eligible one >= floor, in order, into out (value from
// `row`, raw_logit from `raw`). Returns how many, or -1 when they do not fit (overflow).
template <typename Eligible>
__device__ int select_best(const float* row, const float* raw, int vocab, Eligible eligible, int count, float floor,
                           int capacity, PrepCandidate* out, SelectShared& sh) {
  const uint32_t kth = kth_key(row, vocab, eligible, count, sh);
  if (threadIdx.x == 0) sh.n_above = sh.n_ties = 0;
  for (int i = threadIdx.x; i < kSort; i += blockDim.x) sh.entries[i] = 0;
  __syncthreads();
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    if (!eligible(i)) continue;
    const float v = row[i];
    const uint32_t k = order_key(v);
    if (k > kth || v >= floor) {
      const int slot = atomicAdd(&sh.n_above, 1);
      if (slot < kSort) sh.entries[slot] = entry_key(k, i);
    } else if (k == kth) {
      const int slot = atomicAdd(&sh.n_ties, 1);
      if (slot < kPrepMaxCandidates) sh.ties[slot] = i;
    }
  }
  __syncthreads();
  const int above = sh.n_above, need = sh.total > count ? max(0, count - above) : 0;
  if (above + need > capacity || (need > 0 && sh.n_ties > kPrepMaxCandidates)) return -1;
  // The ties go right after the entries above the cut (above < count <= kPrepMaxCandidates when need > 0):
  // sorted, they follow every entry above it, lowest ids first, and the first `need` of them are kept.
  if (need > 0)
    for (int i = threadIdx.x; i < sh.n_ties; i += blockDim.x) sh.entries[above + i] = entry_key(kth, sh.ties[i]);
  sort_entries(sh.entries);
  const int n = above + need;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const int32_t id = entry_id(sh.entries[j]);
    out[j].id = id;
    out[j].logit = row[id];
    out[j].raw_logit = raw[id];
  }
  __syncthreads();
  return n;
}

// Stage 1 on row r: processed = raw, then the host's edits in its order.
__device__ void apply_edits(const PrepInputs& in, const PrepRow& p, const float* raw, float* row) {
  const int vocab = in.vocab;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) row[i] = raw[i];
  __syncthreads();
  for (int b = p.bias_begin + threadIdx.x; b < p.bias_end; b += blockDim.x) {  // ids unique: no races
    const int32_t id = in.bias_ids[b];
    if (id >= 0 && id < vocab) row[id] = __fadd_rn(row[id], in.bias_values[b]);
  }
  __syncthreads();
  for (int e = p.seen_begin + threadIdx.x; e < p.seen_end; e += blockDim.x) {  // distinct ids
    const int32_t id = in.seen_ids[e], output_count = in.seen_output_counts[e];
    if (id < 0 || id >= vocab || (p.repetition_penalty == 1.0f && output_count == 0)) continue;
    float v = row[id];
    if (p.repetition_penalty != 1.0f)
      v = v > 0 ? __fdiv_rn(v, p.repetition_penalty) : __fmul_rn(v, p.repetition_penalty);
    if (output_count > 0) {
      v = __fsub_rn(v, __fmul_rn(p.frequency_penalty, static_cast<float>(output_count)));
      v = __fsub_rn(v, p.presence_penalty);
    }
    row[id] = v;
  }
  __syncthreads();
  for (int m = p.masked_begin + threadIdx.x; m < p.masked_end; m += blockDim.x) {
    const int32_t id = in.masked_ids[m];
    if (id >= 0 && id < vocab) row[id] = -INFINITY;
  }
  __syncthreads();
}

// z over the eligible entries of `row` at temperature t from `max`, and its error bound.
template <typename Eligible>
__device__ void normaliser(const float* row, int vocab, Eligible eligible, float max, float t, double& z,
                           double& z_error, double* scratch) {
  double sum = 0, terms = 0, widest = 0;
  for (int i = threadIdx.x; i < vocab; i += blockDim.x) {
    if (!eligible(i)) continue;
    const double x = (static_cast<double>(row[i]) - static_cast<double>(max)) / static_cast<double>(t);
    sum += exp(x);
    terms += 1;
    widest = fmax(widest, -x);
  }
  z = block_sum_double(sum, scratch);
  const double n = block_sum_double(terms, scratch);
  for (int o = 16; o > 0; o >>= 1) widest = fmax(widest, __shfl_xor_sync(0xffffffffu, widest, o));
  __syncthreads();
  if (threadIdx.x % 32 == 0) scratch[threadIdx.x / 32] = widest;
  __syncthreads();
  widest = 0;
  for (int w = 0; w < static_cast<int>(blockDim.x / 32); w++) widest = fmax(widest, scratch[w]);
  // Each term: exp within 1 ulp (2u) plus the argument's rounding (|x| u); any order of n additions: n u.
  z_error = 1.01 * z * (2 * kUnit + widest * kUnit + n * kUnit) + n * 4.95e-324;
}

}  // namespace

// ---------------------------------------------------------------- kernels

// grid (R), block (kThreads).
__global__ void __launch_bounds__(kThreads) sampling_prep_kernel(const PrepInputs in, PrepCandidates* out) {
  __shared__ SelectShared sh;
  __shared__ double scratch[32];
  const int r = blockIdx.x, vocab = in.vocab;
  const PrepRow p = in.rows[r];
  const float* raw = in.raw + static_cast<size_t>(r) * vocab;  // (vocab)
  float* row = in.processed + static_cast<size_t>(r) * vocab;  // (vocab)
  PrepCandidates& o = out[r];
  apply_edits(in, p, raw, row);
  const uint64_t* allowed = p.allowed_word >= 0 ? in.allowed_bits + p.allowed_word : nullptr;
  auto unmasked = [&](int i) { return row[i] > -INFINITY && (!allowed || ((allowed[i >> 6] >> (i & 63)) & 1)); };
  const int universe = allowed ? p.allowed_count : vocab;
  const int count = min(max(p.count, 1), max(universe, 1));
  int n = count > kPrepMaxCandidates
              ? -1
              : select_best(row, raw, vocab, unmasked, count, p.floor, kPrepMaxCandidates, o.top, sh);
  double z = 0, z_error = 0, raw_log_z = 0;
  if (n > 0 && p.normaliser) normaliser(row, vocab, unmasked, o.top[0].logit, p.temperature, z, z_error, scratch);
  int raw_n = 0;
  if (n >= 0 && p.raw_top >= 0) {
    auto finite = [&](int i) { return raw[i] > -INFINITY; };
    const int want = max(p.raw_top, 1);
    raw_n = want > kPrepMaxRawTop ? -1
                                  : select_best(raw, raw, vocab, finite, want, INFINITY, kPrepMaxRawTop, o.raw_top, sh);
    if (raw_n > 0) {
      double e = 0;
      const float raw_max = o.raw_top[0].logit;
      auto all = [](int) { return true; };
      normaliser(raw, vocab, all, raw_max, 1.0f, raw_log_z, e, scratch);
      raw_log_z = static_cast<double>(raw_max) + log(raw_log_z);
    }
  }
  if (threadIdx.x == 0) {
    o.overflow = n < 0 || raw_n < 0;
    o.n = max(n, 0);
    o.complete = n >= 0 && (n < count || n >= universe);
    o.universe = universe;
    o.z = z;
    o.z_error = z_error;
    o.raw_log_z = raw_log_z;
    o.raw_n = max(raw_n, 0);
  }
}

// ---------------------------------------------------------------- launchers

void launch_sampling_prep(const PrepInputs& in, int R, PrepCandidates* out, cudaStream_t s) {
  KERNEL_ASSERT(in.raw && in.processed && in.rows && out && R >= 0 && in.vocab > 0);
  if (R == 0) return;
  sampling_prep_kernel<<<R, kThreads, 0, s>>>(in, out);
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
