// Scheduler, shared-memory model and PTX operations of the host emulator (simt_emulator.h).
#include "simt_emulator.h"

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace tidepool::replay {

namespace {
constexpr size_t kStackBytes = 256 * 1024;
constexpr long kNever = std::numeric_limits<long>::max();
Emulator* g_running = nullptr;  // the emulator whose block is being scheduled (one at a time)
}  // namespace

// ---------------------------------------------------------------- scheduling

Emulator::Emulator(int threads, size_t smem_bytes)
    : threads_(threads), smem_bytes_(smem_bytes), smem_(smem_bytes), granules_((smem_bytes + 15) / 16), th_(threads) {
  for (Thread& t : th_) t.stack = static_cast<char*>(std::malloc(kStackBytes));
}

Emulator::~Emulator() {
  for (Thread& t : th_) std::free(t.stack);
}

void Emulator::allow_global(const void* p, size_t bytes) { globals_.emplace_back(static_cast<const uint8_t*>(p), bytes); }

void Emulator::fail(const std::string& what) {
  if (failed_) return;
  failed_ = true;
  error_ = "block (" + std::to_string(bx_) + "," + std::to_string(by_) + ") thread " + std::to_string(current_) + ": " + what;
}

void Emulator::entry() {
  Emulator* em = g_running;
  HostExec x;
  x.em_ = em;
  x.tid_ = em->current_;
  (*em->body_)(x);
  em->yield(State::Done);  // never resumed
}

void Emulator::yield(State s) {
  Thread& t = th_[current_];
  t.state = s;
  swapcontext(&t.ctx, &sched_);
}

bool Emulator::run(int gx, int gy, const std::function<void(HostExec&)>& body) {
  body_ = &body;
  gx_ = gx;
  for (by_ = 0; by_ < gy && !failed_; by_++)
    for (bx_ = 0; bx_ < gx && !failed_; bx_++) run_block(body);
  return !failed_;
}

bool Emulator::run_block(const std::function<void(HostExec&)>& body) {
  g_running = this;
  epoch_ = 0;
  std::fill(granules_.begin(), granules_.end(), Granule{});
  std::memset(smem_.data(), 0xA5, smem_.size());  // garbage, never read (reads of unwritten bytes fail)
  stores_.assign((threads_ + 31) / 32, {});
  for (int i = 0; i < threads_; i++) {
    Thread& t = th_[i];
    t.state = State::Runnable;
    t.open.clear();
    t.groups.clear();
    t.group_seq = 0;
    t.store_seq = 0;
    getcontext(&t.ctx);
    t.ctx.uc_stack.ss_sp = t.stack;
    t.ctx.uc_stack.ss_size = kStackBytes;
    t.ctx.uc_link = &sched_;
    makecontext(&t.ctx, &Emulator::entry, 0);
  }
  stats_.blocks++;
  while (!failed_) {
    bool progressed = false;
    for (int i = 0; i < threads_ && !failed_; i++) {
      if (th_[i].state != State::Runnable) continue;
      current_ = i;
      swapcontext(&sched_, &th_[i].ctx);
      progressed = true;
    }
    if (failed_) break;
    current_ = -1;
    bool all_done = true;
    for (const Thread& t : th_) all_done = all_done && t.state == State::Done;
    if (all_done) break;
    if (!step_collectives(progressed)) break;
    if (!progressed) fail("deadlock: no thread can proceed (divergent collective or barrier)");
  }
  for (int i = 0; i < threads_ && !failed_; i++)
    if (!th_[i].open.empty() || !th_[i].groups.empty()) {
      for (const auto& g : th_[i].groups)
        if (!g.empty()) {
          current_ = i;
          fail("cp.async still in flight when the block ends");
        }
      if (!th_[i].open.empty()) {
        current_ = i;
        fail("cp.async never committed nor waited for");
      }
    }
  if (!failed_) count_store_wavefronts();
  return !failed_;
}

// Executes warp operations every lane has reached, then a barrier every thread has reached.
bool Emulator::step_collectives(bool& progressed) {
  for (int w = 0; w * 32 < threads_; w++) {
    int at_op = 0, done = 0;
    for (int l = 0; l < 32; l++) {
      const State s = th_[w * 32 + l].state;
      at_op += s == State::AtWarpOp;
      done += s == State::Done;
    }
    if (at_op == 32) {
      exec_warp_op(w);
      if (failed_) return false;
      progressed = true;
    } else if (at_op > 0 && at_op + done == 32) {
      current_ = w * 32;
      fail("warp collective reached while other lanes of the warp have exited");
      return false;
    }
  }
  if (progressed) return true;
  int at_barrier = 0, done = 0;
  for (const Thread& t : th_) {
    at_barrier += t.state == State::AtBarrier;
    done += t.state == State::Done;
  }
  if (at_barrier > 0 && at_barrier + done == threads_) {
    if (done > 0) {
      current_ = 0;
      fail("barrier reached after some threads of the block exited");
      return false;
    }
    epoch_++;
    stats_.barriers++;
    for (Thread& t : th_) t.state = State::Runnable;
    progressed = true;
  }
  return true;
}

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
    fail(std::string(what) + ": shared address " + std::to_string(off) + " past the block's " + std::to_string(smem_bytes_) + " bytes");
    return nullptr;
  }
  return &granules_[off / 16];
}

void Emulator::read_granule(uint32_t off, const char* what) {
  Granule* g = granule(off, what);
  if (!g) return;
  if (!g->written) return fail(std::string(what) + ": reads shared bytes " + std::to_string(off) + " never written in this block");
  if (g->ready_epoch > epoch_)
    return fail(std::string(what) + ": reads shared bytes " + std::to_string(off) +
                " before their write is complete and a barrier has passed");
  g->last_read_epoch = epoch_;
}

void Emulator::write_granule(int tid, uint32_t off, bool async, const char* what) {
  Granule* g = granule(off, what);
  if (!g) return;
  if (g->last_read_epoch == epoch_)
    return fail(std::string(what) + ": writes shared bytes " + std::to_string(off) + " read in the same barrier interval");
  if (g->pending_thread >= 0)
    return fail(std::string(what) + ": writes shared bytes " + std::to_string(off) + " with a cp.async into them in flight");
  if (g->last_write_epoch == epoch_ && g->last_writer != tid)
    return fail(std::string(what) + ": two threads write shared bytes " + std::to_string(off) + " in one barrier interval");
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

namespace {
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

void Emulator::count_store_wavefronts() {
  for (const auto& per_warp : stores_)
    for (const auto& lanes : per_warp) {
      stats_.store_instructions++;
      for (int phase = 0; phase < 4; phase++) stats_.store_wavefronts += std::max(1, phase_wavefronts(&lanes[phase * 8], 8));
    }
}

// ---------------------------------------------------------------- per-thread operations

int HostExec::block_x() const { return em_->bx_; }
int HostExec::block_y() const { return em_->by_; }
int HostExec::grid_x() const { return em_->gx_; }

void HostExec::cp_async16(uint32_t off, const void* src, bool valid) {
  if (valid && !em_->global_ok(src, 16, 16, "cp.async source")) return;
  em_->write_granule(tid_, off, true, "cp.async");
  if (em_->failed_) return;
  if (valid) std::memcpy(&em_->smem_[off], src, 16);
  else std::memset(&em_->smem_[off], 0, 16);
}

void HostExec::cp_commit() {
  Emulator::Thread& t = em_->th_[tid_];
  t.groups.push_back(std::move(t.open));
  t.open.clear();
  t.group_seq++;
}

// cp.async.wait_group n: every committed group but the n most recent is complete.
void HostExec::wait_groups(int n) {
  Emulator::Thread& t = em_->th_[tid_];
  while (t.groups.size() > static_cast<size_t>(n)) {
    for (int unit : t.groups.front()) {
      Emulator::Granule& g = em_->granules_[unit];
      if (g.pending_thread == tid_) {
        g.pending_thread = -1;
        g.pending_group = -1;
        g.ready_epoch = em_->epoch_ + 1;  // visible to every thread after the next barrier
      }
    }
    t.groups.erase(t.groups.begin());
  }
}

void HostExec::sync() { em_->yield(Emulator::State::AtBarrier); }

void HostExec::st_shared16(uint32_t off, const uint32_t (&v)[4]) {
  em_->write_granule(tid_, off, false, "st.shared");
  if (!em_->failed_) std::memcpy(&em_->smem_[off], v, 16);
}

void HostExec::ldmatrix(uint32_t (&r)[4], uint32_t off, bool trans) {
  Emulator::Thread& t = em_->th_[tid_];
  t.op = trans ? Emulator::Op::LdmatrixTrans : Emulator::Op::Ldmatrix;
  t.off = off;
  t.regs = r;
  em_->yield(Emulator::State::AtWarpOp);
}

void HostExec::mma_op(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf16) {
  Emulator::Thread& t = em_->th_[tid_];
  t.op = bf16 ? Emulator::Op::MmaBf16 : Emulator::Op::MmaF16;
  t.acc = c;
  std::memcpy(t.a, a, sizeof t.a);
  t.b[0] = b0;
  t.b[1] = b1;
  em_->yield(Emulator::State::AtWarpOp);
}

float HostExec::shfl_xor(float v, int mask) {
  Emulator::Thread& t = em_->th_[tid_];
  t.op = Emulator::Op::Shfl;
  t.value = v;
  t.mask = mask;
  em_->yield(Emulator::State::AtWarpOp);
  return t.result;
}

float HostExec::exp2(float v) const { return std::exp2(v); }

void HostExec::ld_global16(const void* p, uint32_t (&v)[4]) {
  if (em_->global_ok(p, 16, 16, "16-byte global load")) std::memcpy(v, p, 16);
  else std::memset(v, 0, 16);
}
void HostExec::st_f32x2(float* p, float a, float b) {
  if (!em_->global_ok(p, 8, 8, "8-byte global store")) return;
  p[0] = a;
  p[1] = b;
}
void HostExec::st_u32(void* p, uint32_t v) {
  if (em_->global_ok(p, 4, 4, "4-byte global store")) std::memcpy(p, &v, 4);
}
void HostExec::st_f32(float* p, float v) {
  if (em_->global_ok(p, 4, 4, "4-byte global store")) *p = v;
}
void HostExec::st_u16(void* p, uint16_t v) {
  if (em_->global_ok(p, 2, 2, "2-byte global store")) std::memcpy(p, &v, 2);
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
