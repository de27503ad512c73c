// Scheduling and per-thread operations of the host emulator (simt_emulator.h); the shared-memory model and
// the warp operations are in simt_memory_model.cpp.
#include "simt_emulator.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

namespace tidepool::replay {

namespace {
constexpr size_t kStackBytes = 256 * 1024;
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

void Emulator::allow_global(const void* p, size_t bytes) {
  globals_.emplace_back(static_cast<const uint8_t*>(p), bytes);
}

void Emulator::fail(const std::string& what) {
  if (failed_) return;
  failed_ = true;
  error_ = "block (" + std::to_string(bx_) + "," + std::to_string(by_) + ") thread " + std::to_string(current_) + ": " +
           what;
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

}  // namespace tidepool::replay
