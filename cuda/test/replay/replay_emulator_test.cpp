// The replay's own checks: the PTX layouts (ptx_semantics.h) cover every matrix element exactly once, one
// warp's ldmatrix + mma reproduces a plain 16x16x8 matmul, and each class of defect the emulator exists to
// catch (missing barrier, unwaited cp.async, write-after-read in one barrier interval, unaligned or
// out-of-bounds access, divergent collective, cp.async left in flight) is caught in a small body that has
// exactly that defect.
#include <functional>

#include "replay_support.h"

using namespace tidepool::replay;

namespace {

Tally tally;
std::vector<uint8_t> global(4096, 1);  // the one global buffer the negative controls may read

bool covers_once(int rows, int cols, int per_lane, const std::function<ptx::Coord(int, int)>& at) {
  std::vector<int> seen(rows * cols, 0);
  for (int l = 0; l < 32; l++)
    for (int i = 0; i < per_lane; i++) {
      const ptx::Coord c = at(l, i);
      if (c.row < 0 || c.row >= rows || c.col < 0 || c.col >= cols) return false;
      seen[c.row * cols + c.col]++;
    }
  for (int s : seen)
    if (s != 1) return false;
  return true;
}

void layouts() {
  tally.check(covers_once(16, 16, 8, ptx::mma_a), "PTX mma.m16n8k16 A fragment covers 16x16 once");
  tally.check(covers_once(16, 8, 4, ptx::mma_b), "PTX mma.m16n8k16 B fragment covers 16x8 once");
  tally.check(covers_once(16, 8, 4, ptx::mma_c), "PTX mma.m16n8k16 C fragment covers 16x8 once");
  for (bool trans : {false, true})
    tally.check(covers_once(8, 8, 2, [&](int l, int j) { return ptx::ldmatrix_element(l, j, trans); }),
                std::string("PTX ldmatrix.m8n8") + (trans ? ".trans" : "") + " covers 8x8 once");
}

// Y (16 x 8) = A (16 x 16) * B^T, B stored (8 x 16): one warp, A and B staged through shared memory.
void one_mma() {
  HalfMatrix A = int_half_matrix(16 * 16, -8, 8, true), B = int_half_matrix(8 * 16, -8, 8, true);
  std::vector<float> Y(16 * 8, 0.0f);
  Emulator em(32, 768);
  em.allow_global(Y.data(), Y.size() * 4);
  const bool ok = em.run(1, 1, [&](HostExec& x) {
    const int lane = x.tid();
    uint32_t v[4];
    std::memcpy(v, &A.bits[(lane / 2) * 16 + (lane % 2) * 8], 16);  // 32 chunks of A: row lane/2, half lane%2
    x.st_shared16(lane * 16, v);
    if (lane < 16) {
      std::memcpy(v, &B.bits[(lane / 2) * 16 + (lane % 2) * 8], 16);
      x.st_shared16(512 + lane * 16, v);
    }
    x.sync();
    uint32_t a[4], b[4];
    x.ldsm_x4(a, (lane % 16) * 32 + (lane / 16) * 16);
    x.ldsm_x4(b, 512 + (lane % 8) * 32 + ((lane / 8) % 2) * 16);  // (n 0-7, k 0-7), (n 0-7, k 8-15)
    float c[4] = {0, 0, 0, 0};
    x.mma<Bf16>(c, a, b[0], b[1]);
    for (int i = 0; i < 4; i += 2) x.st_f32x2(&Y[(lane / 4 + 4 * i) * 8 + (lane % 4) * 2], c[i], c[i + 1]);
  });
  bool exact = ok;
  for (int m = 0; m < 16 && exact; m++)
    for (int n = 0; n < 8; n++) {
      float want = 0;
      for (int k = 0; k < 16; k++) want += A.values[m * 16 + k] * B.values[n * 16 + k];
      exact = exact && Y[m * 8 + n] == want;
    }
  tally.check(exact,
              "one warp: st.shared, ldmatrix.x4, mma.m16n8k16 == matmul" + (ok ? std::string() : ": " + em.error()));
}

void expect_caught(const char* what, const char* needle, int threads, const std::function<void(HostExec&)>& body) {
  Emulator em(threads, 1024);
  em.allow_global(global.data(), global.size());
  const bool ran = em.run(1, 1, body);
  tally.check(!ran && em.error().find(needle) != std::string::npos,
              std::string("caught: ") + what + (ran ? " (not caught)" : " [" + em.error() + "]"));
}

void negative_controls() {
  const uint32_t zeros[4] = {0, 0, 0, 0};
  uint32_t r[4];
  expect_caught("read of another thread's store without a barrier", "before their write", 32, [&](HostExec& x) {
    x.st_shared16(x.tid() * 16, zeros);
    x.ldsm_x4(r, ((x.tid() + 1) % 32) * 16);
  });
  expect_caught("cp.async read after wait_group but before a barrier", "before their write", 32, [&](HostExec& x) {
    x.cp_async16(x.tid() * 16, global.data(), true);
    x.cp_commit();
    x.cp_wait<0>();
    x.ldsm_x4(r, x.tid() * 16);
  });
  expect_caught("cp.async read with its group still pending", "before their write", 32, [&](HostExec& x) {
    x.cp_async16(x.tid() * 16, global.data(), true);
    x.cp_commit();
    x.cp_async16(512 + x.tid() * 16, global.data(), true);
    x.cp_commit();
    x.cp_wait<1>();
    x.sync();
    x.ldsm_x4(r, 512 + x.tid() * 16);
  });
  expect_caught("write into shared bytes read in the same interval", "read in the same barrier interval", 64,
                [&](HostExec& x) {
                  if (x.tid() < 32) x.st_shared16(x.tid() * 16, zeros);
                  x.sync();
                  if (x.tid() < 32) x.ldsm_x4(r, x.tid() * 16);
                  else x.shfl_xor(0.0f, 1), x.cp_async16((x.tid() - 32) * 16, global.data(), true);  // after the read
                  x.cp_commit();
                  x.cp_wait<0>();
                });
  expect_caught("read of shared bytes never written", "never written", 32,
                [&](HostExec& x) { x.ldsm_x4(r, x.tid() * 16); });
  expect_caught("unaligned shared address", "not 16-byte aligned", 32,
                [&](HostExec& x) { x.st_shared16(x.tid() * 16 + 8, zeros); });
  expect_caught("shared address past the allocation", "past the block", 32,
                [&](HostExec& x) { x.st_shared16(1024 + x.tid() * 16, zeros); });
  expect_caught("global read outside the declared buffers", "outside every declared buffer", 32,
                [&](HostExec& x) { x.cp_async16(x.tid() * 16, global.data() + global.size(), true); });
  expect_caught("lanes of a warp at different collectives", "different collective", 32, [&](HostExec& x) {
    if (x.tid() % 2) x.shfl_xor(1.0f, 1);
    else x.st_shared16(x.tid() * 16, zeros), x.ldsm_x4(r, 0);
  });
  expect_caught("barrier not reached by every thread", "exited", 64, [&](HostExec& x) {
    if (x.tid() < 32) x.sync();
  });
  expect_caught("cp.async in flight at block exit", "in flight", 32, [&](HostExec& x) {
    x.cp_async16(x.tid() * 16, global.data(), true);
    x.cp_commit();
  });
}

}  // namespace

int main() {
  layouts();
  one_mma();
  negative_controls();
  return tally.exit_code();
}
