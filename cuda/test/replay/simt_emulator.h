// A host emulator for the kernel bodies of cuda/kernels/simt.h: every thread of a block runs the body as
// a coroutine (ucontext); warp-collective operations (ldmatrix, mma, shuffles) execute once all 32 lanes
// of the warp reached them, a barrier once every thread of the block did, with the PTX ISA's data
// layouts (ptx_semantics.h). Blocks run one after another.
//
// What it checks while the body runs (the first violation stops the run, run() returns false and error()
// names it):
// - shared memory: 16-byte aligned accesses inside the block's allocation; no read of bytes never written
//   in this block; no read of bytes whose cp.async the writer has not waited for (cp.async.wait_group)
//   followed by a barrier; no cp.async / store into bytes another access touches in the same barrier
//   interval; no cp.async still in flight when the block ends;
// - global memory: every cp.async source, vector load and store lies inside a range the test declared
//   (allow_global) and is aligned to its width;
// - control: collectives reached by all 32 lanes with the same operation, barriers by every thread.
// It also counts shared-memory wavefronts (bank conflicts) of ldmatrix and of 16-byte stores.
#pragma once

#include <ucontext.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "../../kernels/simt.h"
#include "ptx_semantics.h"

namespace tidepool::replay {

using cuda::tc::Bf16;
using cuda::tc::F16;

struct ReplayStats {
  long ldmatrix = 0;             // warp instructions
  long ldmatrix_wavefronts = 0;  // shared-memory wavefronts they took (4 per instruction when conflict-free)
  long store_instructions = 0;   // 16-byte shared stores and cp.async, per warp instruction
  long store_wavefronts = 0;     // 4 per instruction when conflict-free
  long mma = 0;
  long barriers = 0;
  long blocks = 0;
};

class Emulator;

// One emulated thread: the executor interface of simt.h.
class HostExec {
 public:
  int tid() const { return tid_; }
  int block_x() const;
  int block_y() const;
  int grid_x() const;

  void cp_async16(uint32_t off, const void* src, bool valid);
  void cp_commit();
  template <int N>
  void cp_wait() {
    wait_groups(N);
  }
  void sync();
  void st_shared16(uint32_t off, const uint32_t (&v)[4]);
  void ldsm_x4(uint32_t (&r)[4], uint32_t off) { ldmatrix(r, off, false); }
  void ldsm_x4_t(uint32_t (&r)[4], uint32_t off) { ldmatrix(r, off, true); }
  template <class H>
  void mma(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1) {
    mma_op(c, a, b0, b1, std::is_same_v<H, Bf16>);
  }
  float shfl_xor(float v, int mask);
  float exp2(float v) const;

  void ld_global16(const void* p, uint32_t (&v)[4]);
  void st_f32x2(float* p, float a, float b);
  void st_u32(void* p, uint32_t v);
  void st_f32(float* p, float v);
  void st_u16(void* p, uint16_t v);

  float as_f32(uint32_t bits) const { return ptx::bits_f32(bits); }
  float to_f32(Bf16 h) const { return ptx::bf16_to_f32(h.bits); }
  float to_f32(F16 h) const { return ptx::f16_to_f32(h.bits); }
  template <class H>
  uint32_t pack(float lo, float hi) const {
    if constexpr (std::is_same_v<H, Bf16>)
      return ptx::f32_to_bf16(lo) | static_cast<uint32_t>(ptx::f32_to_bf16(hi)) << 16;
    else return ptx::f32_to_f16(lo) | static_cast<uint32_t>(ptx::f32_to_f16(hi)) << 16;
  }

 private:
  friend class Emulator;
  void wait_groups(int n);
  void ldmatrix(uint32_t (&r)[4], uint32_t off, bool trans);
  void mma_op(float (&c)[4], const uint32_t (&a)[4], uint32_t b0, uint32_t b1, bool bf16);
  Emulator* em_ = nullptr;
  int tid_ = 0;
};

class Emulator {
 public:
  Emulator(int threads, size_t smem_bytes);
  ~Emulator();
  Emulator(const Emulator&) = delete;
  Emulator& operator=(const Emulator&) = delete;

  // Global ranges the body may reach through cp.async and the executor's loads and stores.
  void allow_global(const void* p, size_t bytes);
  void clear_globals() { globals_.clear(); }

  // Runs body(x) on every thread of every block of the grid (gx, gy).
  bool run(int gx, int gy, const std::function<void(HostExec&)>& body);
  const std::string& error() const { return error_; }
  const ReplayStats& stats() const { return stats_; }

 private:
  friend class HostExec;
  enum class State { Runnable, AtWarpOp, AtBarrier, Done };
  enum class Op { None, Ldmatrix, LdmatrixTrans, MmaBf16, MmaF16, Shfl };
  struct Granule {  // one 16-byte unit of shared memory
    bool written = false;
    long ready_epoch = 0;     // readable from this barrier interval on
    int pending_thread = -1;  // an unwaited cp.async: its thread and group
    long pending_group = -1;
    long last_read_epoch = -1;
    long last_write_epoch = -1;
    int last_writer = -1;
  };
  struct Thread {
    ucontext_t ctx;
    char* stack = nullptr;
    State state = State::Runnable;
    Op op = Op::None;
    uint32_t off = 0;               // ldmatrix address
    uint32_t* regs = nullptr;       // ldmatrix destination (4)
    float* acc = nullptr;           // mma accumulators (4)
    uint32_t a[4] = {}, b[2] = {};  // mma operands
    float value = 0.0f, result = 0.0f;
    int mask = 0;
    std::vector<int> open;                 // granules of cp.async not yet committed
    std::vector<std::vector<int>> groups;  // committed, not yet waited, oldest first
    long group_seq = 0;                    // id of the next group to commit
    long store_seq = 0;                    // this thread's 16-byte shared stores so far
  };

  static void entry();
  void fail(const std::string& what);
  void yield(State s);
  bool run_block(const std::function<void(HostExec&)>& body);
  bool step_collectives(bool& progressed);
  void exec_warp_op(int warp);
  bool global_ok(const void* p, size_t bytes, size_t align, const char* what);
  Granule* granule(uint32_t off, const char* what);
  void read_granule(uint32_t off, const char* what);
  void write_granule(int tid, uint32_t off, bool async, const char* what);
  void record_store(int tid, uint32_t off);
  void count_store_wavefronts();

  int threads_;
  size_t smem_bytes_;
  std::vector<uint8_t> smem_;
  std::vector<Granule> granules_;
  std::vector<Thread> th_;
  std::vector<std::vector<std::vector<int>>> stores_;  // per warp, per instruction: granule per lane (-1 none)
  std::vector<std::pair<const uint8_t*, size_t>> globals_;
  ucontext_t sched_;
  const std::function<void(HostExec&)>* body_ = nullptr;
  int current_ = -1;
  int bx_ = 0, by_ = 0, gx_ = 0;
  long epoch_ = 0;
  bool failed_ = false;
  std::string error_;
  ReplayStats stats_;
};

}  // namespace tidepool::replay
