// The CUDA backend's host-side logic, which needs no device and so runs everywhere the backend builds:
//   - DeviceArena: first fit, allocate_at (a slot's home), release of null and foreign pointers, coalescing,
//     and check_integrity after every one of 20,000 random operations;
//   - which CUDA errors are sticky (device_lost) and which are not;
//   - the device probe's verdict: skip only on a machine without a GPU, fail on a broken one;
//   - plan_weights on a real Hugging Face file whose tensors are not 16-byte aligned (per-tensor copies,
//     every tensor on a 256-byte boundary) and on an aligned one (one span per file);
//   - why a mapping would go through the staging ring;
//   - the benchmark's synthetic model in the real (sharded, unaligned) Hugging Face layout.
#include <cuda_runtime_api.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../bench/bench_synth.h"
#include "cuda_device.h"
#include "device_arena.h"
#include "kernels.h"
#include "model.h"
#include "test_support.h"
#include "weight_pager.h"

using namespace tidepool;
using namespace tidepool::cuda;

namespace {

void arena_basics() {
  std::vector<uint8_t> backing(1 << 20);
  DeviceArena a;
  a.reset(backing.data(), backing.size());
  uint8_t* x = a.allocate(1000);  // rounds to 1024
  uint8_t* y = a.allocate(256);
  CHECK(x == backing.data() && y == backing.data() + 1024 && a.used() == 1280);
  a.release(nullptr);             // ignored, no arithmetic on null
  a.release(backing.data() + 7);  // not a block start: ignored
  uint8_t outside = 0;
  a.release(&outside);  // not in the arena: ignored
  CHECK(a.used() == 1280 && a.check_integrity());
  a.release(x);
  CHECK(!a.allocate_at(y, 256));                  // taken
  CHECK(!a.allocate_at(backing.data() + 8, 64));  // not aligned
  CHECK(!a.allocate_at(nullptr, 256) && !a.allocate_at(&outside, 256));
  CHECK(a.allocate_at(backing.data() + 256, 512));  // inside the freed run, splitting it in three
  CHECK(a.check_integrity() && a.used() == 768);
  CHECK(!a.allocate_at(backing.data(), 512));  // would overlap the block at 256
  CHECK(a.allocate_at(backing.data(), 256));
  a.release(backing.data());
  a.release(backing.data() + 256);
  a.release(y);
  CHECK(a.used() == 0 && a.largest_free() == backing.size() && a.check_integrity());
}

void arena_random() {
  std::vector<uint8_t> backing(size_t(64) << 20);
  DeviceArena a;
  a.reset(backing.data(), backing.size());
  std::mt19937_64 rng(7);
  std::vector<std::pair<uint8_t*, size_t>> live;
  for (int i = 0; i < 20000; i++) {
    const int op = static_cast<int>(rng() % 3);
    const size_t bytes = 1 + rng() % (size_t(2) << 20);
    if (op == 0 || live.empty()) {
      if (uint8_t* p = a.allocate(bytes)) live.push_back({p, bytes});
    } else if (op == 1) {  // re-take a block just released, as a reload into its home does
      const size_t k = rng() % live.size();
      a.release(live[k].first);
      CHECK(a.allocate_at(live[k].first, live[k].second));
    } else {
      const size_t k = rng() % live.size();
      a.release(live[k].first);
      live.erase(live.begin() + static_cast<long>(k));
    }
    CHECK(a.check_integrity());
  }
  for (auto& [p, bytes] : live) a.release(p);
  CHECK(a.used() == 0 && a.largest_free() == a.capacity());
}

void sticky_errors() {
  for (cudaError_t e : {cudaErrorIllegalAddress, cudaErrorLaunchFailure, cudaErrorAssert, cudaErrorECCUncorrectable,
                        cudaErrorMisalignedAddress, cudaErrorIllegalInstruction, cudaErrorLaunchTimeout})
    CHECK(is_sticky_cuda_error(e));
  for (cudaError_t e : {cudaSuccess, cudaErrorMemoryAllocation, cudaErrorInvalidValue, cudaErrorInvalidConfiguration,
                        cudaErrorLaunchOutOfResources, cudaErrorStreamCaptureInvalidated,
                        cudaErrorHostMemoryAlreadyRegistered, cudaErrorNotSupported})
    CHECK(!is_sticky_cuda_error(e));
  try {
    throw_cuda_error("here.cu", 12, "cudaMemcpyAsync", cudaErrorIllegalAddress);
  } catch (const EngineError& e) {
    CHECK(e.code() == "device_lost");
    CHECK(std::string(e.what()).find("cudaErrorIllegalAddress") != std::string::npos);
    CHECK(std::string(e.what()).find("TIDEPOOL_CUDA_SYNC_LAUNCHES") !=
          std::string::npos);  // the site may not be the kernel
  }
  try {
    throw_cuda_error("here.cu", 12, "cudaMalloc", cudaErrorMemoryAllocation);
  } catch (const EngineError& e) {
    CHECK(e.code() == "out_of_memory");
  }
}

void probe_verdicts() {
  CHECK(classify_cuda(cudaSuccess, 1, 12080, 13000, true).state == CudaProbe::State::Ready);
  CHECK(classify_cuda(cudaErrorNoDevice, 0, 12080, 13000, false).absent());
  CHECK(classify_cuda(cudaErrorInsufficientDriver, 0, 0, 13000, false).absent());           // no driver, no GPU
  const CudaProbe old = classify_cuda(cudaErrorInsufficientDriver, 0, 12020, 13000, true);  // driver too old
  CHECK(!old.absent() && old.message.find("12.2") != std::string::npos &&
        old.message.find("13.0") != std::string::npos);
  CHECK(!classify_cuda(cudaErrorInsufficientDriver, 0, 0, 13000, true).absent());  // a GPU node without libcuda
  CHECK(!classify_cuda(cudaErrorUnknown, 0, 12080, 13000, true).absent());
  CHECK(!classify_cuda(cudaErrorDevicesUnavailable, 0, 12080, 13000, true).absent());
  const CudaProbe here = probe_cuda();
  std::printf("this machine: %s\n",
              here.state == CudaProbe::State::Ready ? "a CUDA device is ready" : here.message.c_str());
}

void check_plan(const std::string& fixture, bool expect_per_tensor) {
  const std::unique_ptr<Model> m = load_model_dir(std::string(TIDEPOOL_REPO_ROOT) + "/test/fixtures/models/" + fixture);
  const WeightPlan plan = plan_weights(*m);
  CHECK(plan.per_tensor == expect_per_tensor);
  CHECK(plan.bytes % DeviceArena::kAlign == 0 && plan.bytes >= m->weight_bytes);
  size_t copied = 0;
  std::set<std::pair<size_t, size_t>> spans;  // (slot offset, bytes) of every used tensor
  for (const auto& [t, offset] : plan.offsets) {
    CHECK(offset % 16 == 0 && offset + t->bytes <= plan.bytes);  // kernels read weights 16 bytes at a time
    if (expect_per_tensor) CHECK(offset % DeviceArena::kAlign == 0);
    spans.insert({offset, t->bytes});
  }
  size_t end = 0;
  for (const auto& [offset, bytes] : spans) {  // no two tensors overlap in the slot
    CHECK(offset >= end);
    end = offset + bytes;
  }
  for (const WeightPlan::Copy& c : plan.copies) {
    CHECK(c.dst_offset + c.bytes <= plan.bytes);
    copied += c.bytes;
  }
  if (expect_per_tensor) CHECK(plan.copies.size() == plan.offsets.size() && copied == m->weight_bytes);
  else CHECK(plan.copies.size() == m->files.size() && copied >= m->weight_bytes);
  for (const auto& [t, offset] : plan.offsets) {  // the copy that carries t puts its first byte at `offset`
    bool found = false;
    for (const WeightPlan::Copy& c : plan.copies)
      found = found ||
              (t->data >= c.src && t->data + t->bytes <= c.src + c.bytes && c.dst_offset + (t->data - c.src) == offset);
    CHECK(found);
  }
  std::printf("%s: %s, %zu copies, slot %zu bytes for %zu bytes of weights\n", fixture.c_str(),
              expect_per_tensor ? "per tensor (unaligned Hugging Face layout)" : "one span per file",
              plan.copies.size(), plan.bytes, m->weight_bytes);
}

// The benchmark's synthetic model has the layout real checkpoints have: several shards, data 8 bytes past a
// 16-byte boundary, so the engine copies tensor by tensor.
void bench_model_layout() {
  const std::string dir = testing::make_temp_dir("bench-synth");
  const bench::Shape shape{"test", 256, 512, 2, 4, 2, 1024, true, false, 1000000.0};
  CHECK(bench::synthesize(dir, shape, 1, 400 << 10));
  const std::unique_ptr<Model> m = load_model_dir(dir);
  CHECK(m->files.size() >= 3 && m->layers.size() == 2);
  for (const auto& f : m->files) CHECK(reinterpret_cast<uintptr_t>(f->tensors().front().data) % 16 != 0);
  const WeightPlan plan = plan_weights(*m);
  CHECK(plan.per_tensor && plan.ranges.size() == m->files.size());
  std::printf("bench model layout: %zu shards, per-tensor copies (%zu)\n", m->files.size(), plan.copies.size());
  std::filesystem::remove_all(dir);
}

void staging_reasons() {
  HostRegistration r;
  r.supported = r.read_only_supported = true;
  CHECK(r.unavailable_reason().empty());
  r.read_only_supported = false;
  CHECK(r.unavailable_reason().find("read-only") != std::string::npos);
  r.supported = false;
  CHECK(r.unavailable_reason().find("HostRegisterSupported") != std::string::npos);
  r.disabled = true;
  CHECK(r.unavailable_reason().find("TIDEPOOL_CUDA_NO_PIN") != std::string::npos);
}

}  // namespace

int main() {
  arena_basics();
  arena_random();
  sticky_errors();
  probe_verdicts();
  check_plan("tiny-qwen2-f16", true);  // written by safetensors: data starts 8 bytes off a 16-byte boundary
  check_plan("tiny-qwen2", false);
  staging_reasons();
  bench_model_layout();
  std::printf("cuda host logic: PASS\n");
  return 0;
}
