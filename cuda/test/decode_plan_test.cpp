// The decode path's shape arithmetic, checked without a GPU for the published shapes of
// platform/models/shapes.ts (qwen2.5-0.5b .. llama2-13b):
//   - every projection's skinny GEMM (Q/K/V group, O, gate/up group, down, lm_head) launches at least one
//     block per SM of an H100 SXM (132) and an A100 (108), and its split of K is the same for T = 1 and 32;
//   - kernel launches per decode step of the layer loop, before (the loop of commit 03db009: one launch per
//     op, three projections and three bias adds for Q/K/V, separate norms and residual adds) and now
//     (decode_step_launches, which cuda_backend_test checks against a captured graph's node count).
// Prints the table docs/cuda.md quotes.
#include <cstdio>
#include <string>
#include <vector>

#include "../kernels/skinny_plan.h"
#include "forward_plan.h"
#include "test_support.h"

using namespace tidepool;
using namespace tidepool::cuda;

namespace {

struct Shape {
  const char* name;
  int hidden, layers, heads, kv_heads, intermediate, vocab;
  bool qkv_bias;
};

// From platform/models/shapes.ts.
const Shape kShapes[] = {
    {"qwen2.5-0.5b", 896, 24, 14, 2, 4864, 151936, true},  {"qwen2.5-1.5b", 1536, 28, 12, 2, 8960, 151936, true},
    {"qwen2.5-7b", 3584, 28, 28, 4, 18944, 152064, true},  {"qwen2.5-14b", 5120, 48, 40, 8, 13824, 152064, true},
    {"yi-1.5-9b", 4096, 48, 32, 4, 11008, 64000, false},   {"llama2-7b", 4096, 32, 32, 32, 11008, 32000, false},
    {"llama2-13b", 5120, 40, 40, 40, 13824, 32000, false},
};

ModelConfig config_of(const Shape& s) {
  ModelConfig c;
  c.hidden_size = s.hidden;
  c.num_layers = s.layers;
  c.num_heads = s.heads;
  c.num_kv_heads = s.kv_heads;
  c.head_dim = s.hidden / s.heads;
  c.intermediate_size = s.intermediate;
  c.vocab_size = s.vocab;
  return c;
}

// Launches of one decode step of T <= 8 tokens in the layer loop of commit 03db009 (gemv for T <= 8):
// embedding; per layer rmsnorm, q/k/v gemv, 3 bias adds (Qwen2), rope, kv write, attention split + merge,
// o gemv, residual, rmsnorm, gate and up gemv, swiglu, down gemv, residual; final rmsnorm; lm_head.
int launches_before(const Shape& s) { return 1 + s.layers * (16 + (s.qkv_bias ? 3 : 0)) + 2; }
// The same for 9..32 tokens, where every linear was a cast to half and a tensor-core GEMM.
int launches_before_wide(const Shape& s) { return 1 + s.layers * (23 + (s.qkv_bias ? 3 : 0)) + 3; }

int check_projections(const Shape& s, int sms) {
  const ModelConfig c = config_of(s);
  const int H = c.hidden_size, Q = c.q_dim(), KV = c.kv_dim(), I = c.intermediate_size;
  struct Projection {
    const char* name;
    std::vector<int> n;
    int K;
  } projections[] = {
      {"qkv", {Q, KV, KV}, H}, {"o", {H}, Q}, {"gate_up", {I, I}, H}, {"down", {H}, I}, {"lm_head", {c.vocab_size}, H}};
  int bad = 0;
  for (const Projection& p : projections) {
    const skinny::Plan plan = skinny::make_plan(p.n.data(), static_cast<int>(p.n.size()), p.K, sms);
    const long blocks = static_cast<long>(plan.blocks_x) * plan.splits;
    const double efficiency = skinny::wave_efficiency(blocks, static_cast<long>(sms) * skinny::kBlocksPerSm);
    const bool ok = blocks >= sms;
    std::printf("  %-8s %-8s %5d m-tiles x %2d splits = %5ld blocks on %3d SMs, wave efficiency %.2f%s\n", s.name,
                p.name, plan.m_tiles(), plan.splits, blocks, sms, efficiency,
                ok ? "" : "  FAIL: an SM without a block");
    bad += ok ? 0 : 1;
  }
  return bad;
}

}  // namespace

int main() {
  int bad = 0;
  for (int sms : {132, 108}) {
    std::printf("skinny GEMM plans, %d SMs:\n", sms);
    for (const Shape& s : kShapes) bad += check_projections(s, sms);
  }
  std::printf("\nkernel launches per decode step (bf16 weights):\n");
  std::printf("  %-14s %18s %18s %16s\n", "shape", "before, T<=8", "before, T=9..32", "now, T=1..32");
  for (const Shape& s : kShapes) {
    const int now = decode_step_launches(config_of(s), WeightType::BF16, 1);
    CHECK(now == decode_step_launches(config_of(s), WeightType::BF16, 32));
    CHECK(now == 3 + 10 * s.layers);
    std::printf("  %-14s %18d %18d %16d\n", s.name, launches_before(s), launches_before_wide(s), now);
  }
  CHECK(bad == 0);
  std::printf("PASS\n");
  return 0;
}
