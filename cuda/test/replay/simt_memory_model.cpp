// The host emulator's shared-memory model (readiness, races, bank wavefronts) and its warp operations with
// the PTX ISA's data layouts (simt_emulator.h, ptx_semantics.h).
#include <algorithm>
#include <cstring>
#include <limits>

#include "simt_emulator.h"

namespace tidepool::replay {

namespace {
constexpr long kNever = std::numeric_limits<long>::max();

// Wavefronts one phase of 16-byte shared accesses takes: the most distinct 16-byte units that fall in one
// bank group (32 banks of 4 bytes = 8 groups of 16 bytes).
int phase_wavefronts(const int* units, int n) {
  int worst = 0;
  for (int bank = 0; bank < 8; bank++) {
    int distinct = 0;
    for (int i = 0; i < n; i++) {
      if (units[i] < 0 || units[i] % 8 != bank) continue;
      bool seen = false;
      for (int j = 0; j < i; j++) seen = seen || units[j] == units[i];
      distinct += !seen;
    }
    worst = std::max(worst, distinct);
  }
  return worst;
}
}  // namespace

// ---------------------------------------------------------------- memory model

bool Emulator::global_ok(const void* p, size_t bytes, size_t align, const char* what) {
  const auto* b = static_cast<const uint8_t*>(p);
  if (reinterpret_cast<uintptr_t>(p) % align != 0) {
    fail(std::string(what) + ": global address not " + std::to_string(align) + "-byte aligned");
    return false;
  }
  for (const auto& [base, size] : globals_)
    if (b >= base && b + bytes <= base + size) return true;
  fail(std::string(what) + ": global access outside every declared buffer");
  return false;
}

Emulator::Granule* Emulator::granule(uint32_t off, const char* what) {
  if (off % 16 != 0) {
    fail(std::string(what) + ": shared address " + std::to_string(off) + " not 16-byte aligned");
    return nullptr;
  }
  if (off + 16 > smem_bytes_) {
    fail(std::string(what) + ": shared address " + std::to_string(off) + " past the block's " +
         std::to_string(smem_bytes_) + " bytes");
    return nullptr;
  }
  return &granules_[off / 16];
}

void Emulator::read_granule(uint32_t off, const char* what) {
  Granule* g = granule(off, what);
  if (!g) return;
  if (!g->written)
    return fail(std::string(what) + ": reads shared bytes " + std::to_string(off) + " never written in this block");
  if (g->ready_epoch > epoch_)
    return fail(std::string(what) + ": reads shared bytes " + std::to_string(off) +
                " before their write is complete and a barrier has passed");
  g->last_read_epoch = epoch_;
}

void Emulator::write_granule(int tid, uint32_t off, bool async, const char* what) {
  Granule* g = granule(off, what);
  if (!g) return;
  if (g->last_read_epoch == epoch_)
    return fail(std::string(what) + ": writes shared bytes " + std::to_string(off) +
                " read in the same barrier interval");
  if (g->pending_thread >= 0)
    return fail(std::string(what) + ": writes shared bytes " + std::to_string(off) +
                " with a cp.async into them in flight");
  if (g->last_write_epoch == epoch_ && g->last_writer != tid)
    return fail(std::string(what) + ": two threads write shared bytes " + std::to_string(off) +
                " in one barrier interval");
  g->written = true;
  g->last_write_epoch = epoch_;
  g->last_writer = tid;
  if (async) {
    g->pending_thread = tid;
    g->pending_group = th_[tid].group_seq;
    g->ready_epoch = kNever;
    th_[tid].open.push_back(static_cast<int>(off / 16));
  } else {
    g->ready_epoch = epoch_ + 1;
  }
  record_store(tid, off);
}

// 16-byte shared accesses of a warp instruction go 8 lanes per phase; each phase takes one wavefront per
// distinct 16-byte unit in its busiest bank group (4-byte banks, 32 of them = 8 groups of 16 bytes).
void Emulator::record_store(int tid, uint32_t off) {
  Thread& t = th_[tid];
  auto& per_warp = stores_[tid / 32];
  if (per_warp.size() <= static_cast<size_t>(t.store_seq)) per_warp.resize(t.store_seq + 1, std::vector<int>(32, -1));
  per_warp[t.store_seq][tid % 32] = static_cast<int>(off / 16);
  t.store_seq++;
}

void Emulator::count_store_wavefronts() {
  for (const auto& per_warp : stores_)
    for (const auto& lanes : per_warp) {
      stats_.store_instructions++;
      for (int phase = 0; phase < 4; phase++)
        stats_.store_wavefronts += std::max(1, phase_wavefronts(&lanes[phase * 8], 8));
    }
}

// ---------------------------------------------------------------- warp operations (PTX semantics)

void Emulator::exec_warp_op(int warp) {
  Thread* lanes = &th_[warp * 32];
  const Op op = lanes[0].op;
  for (int l = 1; l < 32; l++)
    if (lanes[l].op != op) {
      current_ = warp * 32 + l;
      return fail("lanes of one warp reached different collective operations");
    }
  current_ = warp * 32;
  if (op == Op::Shfl) {
    for (int l = 0; l < 32; l++) {
      if (lanes[l].mask != lanes[0].mask) return fail("shfl.xor with different lane masks in one warp");
      lanes[l].result = lanes[l ^ lanes[l].mask].value;
    }
  } else if (op == Op::Ldmatrix || op == Op::LdmatrixTrans) {
    stats_.ldmatrix++;
    const bool trans = op == Op::LdmatrixTrans;
    for (int q = 0; q < 4; q++) {
      int units[8];
      for (int row = 0; row < 8; row++) {
        const uint32_t off = lanes[ptx::ldmatrix_row_supplier(q, row)].off;
        read_granule(off, trans ? "ldmatrix.trans" : "ldmatrix");
        if (failed_) return;
        units[row] = static_cast<int>(off / 16);
      }
      stats_.ldmatrix_wavefronts += phase_wavefronts(units, 8);
      for (int l = 0; l < 32; l++) {
        uint32_t reg = 0;
        for (int j = 0; j < 2; j++) {
          const ptx::Coord e = ptx::ldmatrix_element(l, j, trans);
          uint16_t h;
          std::memcpy(&h, &smem_[lanes[ptx::ldmatrix_row_supplier(q, e.row)].off + 2 * e.col], 2);
          reg |= static_cast<uint32_t>(h) << (16 * j);
        }
        lanes[l].regs[q] = reg;
      }
    }
  } else {
    stats_.mma++;
    const bool bf16 = op == Op::MmaBf16;
    auto value = [&](uint32_t reg, int j) {
      const uint16_t h = static_cast<uint16_t>(reg >> (16 * j));
      return static_cast<double>(bf16 ? ptx::bf16_to_f32(h) : ptx::f16_to_f32(h));
    };
    double A[16][16], B[16][8], C[16][8];
    for (int l = 0; l < 32; l++) {
      for (int i = 0; i < 8; i++) {
        const ptx::Coord e = ptx::mma_a(l, i);
        A[e.row][e.col] = value(lanes[l].a[i / 2], i % 2);
      }
      for (int i = 0; i < 4; i++) {
        const ptx::Coord e = ptx::mma_b(l, i);
        B[e.row][e.col] = value(lanes[l].b[i / 2], i % 2);
        const ptx::Coord c = ptx::mma_c(l, i);
        C[c.row][c.col] = lanes[l].acc[i];
      }
    }
    for (int l = 0; l < 32; l++)
      for (int i = 0; i < 4; i++) {
        const ptx::Coord c = ptx::mma_c(l, i);
        double d = C[c.row][c.col];
        for (int k = 0; k < 16; k++) d += A[c.row][k] * B[k][c.col];
        lanes[l].acc[i] = static_cast<float>(d);
      }
  }
  for (int l = 0; l < 32; l++) lanes[l].state = State::Runnable;
}

}  // namespace tidepool::replay
