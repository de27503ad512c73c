// Host replay of the skinny GEMM (kernels/skinny_gemm.cu), runnable without a GPU: every block, split,
// warp and lane of a launch is replayed with the kernel's own plan and lane arithmetic (skinny_plan.h),
// and each mma.sync.m16n8k16 is carried out on fragments gathered exactly as the PTX ISA assigns them to
// lanes (written out here from the ISA's fragment tables, independently of skinny_plan.h). Inputs are small
// integers, so every order of summation gives the same f32: the result must equal a plain matmul bit for
// bit, every output must be written, and nothing outside the outputs may be.
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <vector>

#include "../kernels/skinny_plan.h"
#include "test_support.h"

using namespace tidepool::cuda::skinny;

namespace {

std::mt19937_64 rng(7);

struct Case {
  std::vector<int> n;  // rows of each weight tensor
  int K, T, sms;
  bool gather;  // token rows through x_rows
};

// ---- the PTX ISA's fragment layout for mma.m16n8k16 with 16-bit A/B (.row.col) and f32 C/D.
// A (16 x 16): lane l, register i (0..3), half e (0 low, 1 high).
int isa_a_row(int l, int i) { return l / 4 + 8 * (i % 2); }
int isa_a_col(int l, int i, int e) { return (l % 4) * 2 + e + 8 * (i / 2); }
// B (16 x 8): register i (0..1), half e.
int isa_b_row(int l, int i, int e) { return (l % 4) * 2 + e + 8 * i; }
int isa_b_col(int l) { return l / 4; }
// C/D (16 x 8): element i (0..3).
int isa_c_row(int l, int i) { return l / 4 + 8 * (i / 2); }
int isa_c_col(int l, int i) { return (l % 4) * 2 + i % 2; }

// One warp-wide mma: a[lane][4][2], b[lane][2][2] (the 16-bit halves as values), c[lane][4] accumulated.
void mma(const float (&a)[32][4][2], const float (&b)[32][2][2], float (&c)[32][4]) {
  float A[16][16], B[16][8], D[16][8];
  for (int l = 0; l < 32; l++) {
    for (int i = 0; i < 4; i++)
      for (int e = 0; e < 2; e++) A[isa_a_row(l, i)][isa_a_col(l, i, e)] = a[l][i][e];
    for (int i = 0; i < 2; i++)
      for (int e = 0; e < 2; e++) B[isa_b_row(l, i, e)][isa_b_col(l)] = b[l][i][e];
    for (int i = 0; i < 4; i++) D[isa_c_row(l, i)][isa_c_col(l, i)] = c[l][i];
  }
  for (int r = 0; r < 16; r++)
    for (int n = 0; n < 8; n++)
      for (int k = 0; k < 16; k++) D[r][n] += A[r][k] * B[k][n];
  for (int l = 0; l < 32; l++)
    for (int i = 0; i < 4; i++) c[l][i] = D[isa_c_row(l, i)][isa_c_col(l, i)];
}

// One lane's 16-byte load as 4 registers of 2 halves: elements [k, k + 8) of `row`, zeros when invalid.
void load16(const std::vector<float>& m, int K, int row, int k, bool valid, float (&r)[4][2]) {
  for (int j = 0; j < 8; j++) r[j / 2][j % 2] = valid ? m[static_cast<size_t>(row) * K + k + j] : 0.0f;
}

// Replays one launch; returns the number of problems found.
int replay(const Case& c) {
  const int count = static_cast<int>(c.n.size());
  const Plan p = make_plan(c.n.data(), count, c.K, c.sms);
  std::uniform_int_distribution<int> small(-4, 4);
  std::vector<std::vector<float>> W(count);
  for (int i = 0; i < count; i++) {
    W[i].resize(static_cast<size_t>(c.n[i]) * c.K);
    for (float& v : W[i]) v = static_cast<float>(small(rng));
  }
  const int x_rows_total = c.gather ? c.T + 5 : c.T;
  std::vector<float> X(static_cast<size_t>(x_rows_total) * c.K);
  for (float& v : X) v = static_cast<float>(small(rng));
  std::vector<int> x_rows(c.T);
  for (int t = 0; t < c.T; t++) x_rows[t] = c.gather ? (t * 7 + 3) % x_rows_total : t;
  const int ldy = p.columns() + 3, cols = p.columns();
  std::vector<float> Y(static_cast<size_t>(c.T) * ldy, NAN), ws(p.workspace_floats(c.T), NAN);
  const int NT = (c.T + 7) / 8;

  for (int bx = 0; bx < p.blocks_x; bx++)
    for (int split = 0; split < p.splits; split++)
      for (int w = 0; w < kWarps; w++) {
        const int mt = bx * kWarps + w;
        if (mt >= p.m_tiles()) continue;
        const int tensor = p.tensor_of(mt), row0 = (mt - Plan::entry(p.tile_start, tensor)) * kTileRows;
        const int n = c.n[tensor], col0 = Plan::entry(p.col_start, tensor);
        float acc[4][32][4] = {};
        for (int step = p.split_begin(split); step < p.split_end(split); step++) {
          float wa[32][4][2], wb[32][4][2];
          for (int l = 0; l < 32; l++) {
            const int k = step * kStepK + lane_k(l), ra = row0 + lane_group(l), rb = ra + 8;
            load16(W[tensor], c.K, ra, k, k < c.K && ra < n, wa[l]);
            load16(W[tensor], c.K, rb, k, k < c.K && rb < n, wb[l]);
          }
          for (int j = 0; j < NT; j++) {
            float xb[32][4][2];
            for (int l = 0; l < 32; l++) {
              const int k = step * kStepK + lane_k(l), t = 8 * j + lane_group(l);
              load16(X, c.K, t < c.T ? x_rows[t] : 0, k, k < c.K && t < c.T, xb[l]);
            }
            for (int h = 0; h < 2; h++) {
              float af[32][4][2], bf[32][2][2];
              for (int l = 0; l < 32; l++)
                for (int e = 0; e < 2; e++) {
                  af[l][0][e] = wa[l][load_register(h, 0)][e];
                  af[l][1][e] = wb[l][load_register(h, 0)][e];
                  af[l][2][e] = wa[l][load_register(h, 1)][e];
                  af[l][3][e] = wb[l][load_register(h, 1)][e];
                  bf[l][0][e] = xb[l][load_register(h, 0)][e];
                  bf[l][1][e] = xb[l][load_register(h, 1)][e];
                }
              mma(af, bf, acc[j]);
            }
          }
        }
        float* out = p.splits > 1 ? ws.data() + static_cast<size_t>(split) * c.T * cols : Y.data();
        const int ld = p.splits > 1 ? cols : ldy;
        for (int j = 0; j < NT; j++)
          for (int l = 0; l < 32; l++)
            for (int e = 0; e < 4; e++) {
              const int row = row0 + acc_row(l, e), t = acc_token(l, j, e);
              if (row < n && t < c.T) out[static_cast<size_t>(t) * ld + col0 + row] = acc[j][l][e];
            }
      }
  if (p.splits > 1)  // the last block of each column: splits added in index order
    for (int t = 0; t < c.T; t++)
      for (int col = 0; col < cols; col++) {
        float sum = 0;
        for (int s = 0; s < p.splits; s++) sum += ws[(static_cast<size_t>(s) * c.T + t) * cols + col];
        Y[static_cast<size_t>(t) * ldy + col] = sum;
      }

  int bad = 0;
  for (int t = 0; t < c.T; t++) {
    for (int i = 0; i < count; i++)
      for (int r = 0; r < c.n[i]; r++) {
        float want = 0;
        for (int k = 0; k < c.K; k++)
          want += X[static_cast<size_t>(x_rows[t]) * c.K + k] * W[i][static_cast<size_t>(r) * c.K + k];
        const float got = Y[static_cast<size_t>(t) * ldy + Plan::entry(p.col_start, i) + r];
        if (std::memcmp(&got, &want, 4) != 0) bad++;
      }
    for (int col = cols; col < ldy; col++) bad += std::isnan(Y[static_cast<size_t>(t) * ldy + col]) ? 0 : 1;
  }
  for (float v : ws) bad += std::isnan(v) ? 1 : 0;  // every partial was written
  std::printf(
      "replay n=[%d%s%s] K=%d T=%d%s sms=%d: %d m-tiles, %d split(s), %d blocks: %s\n", c.n[0], count > 1 ? "," : "",
      count > 1 ? (std::to_string(c.n[1]) + (count > 2 ? "," + std::to_string(c.n[2]) : "")).c_str() : "", c.K, c.T,
      c.gather ? " gathered" : "", c.sms, p.m_tiles(), p.splits, p.blocks_x * p.splits, bad ? "MISMATCH" : "bit-exact");
  return bad;
}

}  // namespace

int main() {
  const std::vector<Case> cases = {
      {{1}, 8, 1, 132, false},              // the smallest: one row, one 8-element piece of k
      {{37}, 520, 5, 132, false},           // odd rows, K % 32 != 0, one partial n-tile
      {{200, 40, 40}, 264, 13, 132, true},  // a Q/K/V-like group, gathered rows
      {{301, 301}, 1000, 32, 132, false},   // a gate/up-like pair, four full n-tiles
      {{17}, 4104, 9, 8, false},            // few SMs, long K: split-K kicks in
      {{64, 32, 32}, 64, 24, 132, false},   // the tiny fixtures' Q/K/V
      {{1152}, 896, 3, 132, true},          // qwen2.5-0.5b Q/K/V rows, lm_head-like gather
  };
  int bad = 0, split_cases = 0;
  for (const Case& c : cases) {
    bad += replay(c);
    split_cases += make_plan(c.n.data(), static_cast<int>(c.n.size()), c.K, c.sms).splits > 1;
  }
  std::uniform_int_distribution<int> rows(1, 90), kk(1, 80), tt(1, 32), sm(1, 40), cnt(1, 3);
  for (int i = 0; i < 12; i++) {
    Case c;
    for (int j = cnt(rng); j > 0; j--) c.n.push_back(rows(rng));
    c.K = 8 * kk(rng);
    c.T = tt(rng);
    c.sms = sm(rng);
    c.gather = i % 2;
    bad += replay(c);
    split_cases += make_plan(c.n.data(), static_cast<int>(c.n.size()), c.K, c.sms).splits > 1;
  }
  CHECK(split_cases >= 3);  // the split-K path was replayed
  std::printf(bad ? "FAILED: %d mismatches\n" : "PASS\n", bad);
  return bad ? 1 : 0;
}
