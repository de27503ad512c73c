// tidepool-engine-bench: the engine against the hardware in one run (../shared/BENCHMARKS.md §2).
//   ceilings  pinned host-to-device and device-to-device bandwidth
//   switch    load a synthesized model (real Hugging Face layout: shards, unaligned tensors, so copied
//             tensor by tensor) from shared memory into a slot: first load (pins the mapping), later loads
//             of the same mapping (copy only: a switch), and the staging ring; each row names its path
//             and, for the ring, why
//   decode    step time, batch {1, 8, 32} x context {128, 1024}, with the bandwidth roofline
//   prefill   1 x {128, 1024, 2048} tokens
//   kv_swap   park / restore GB/s
//   prefetch  a second model copied into a free slot by another thread while the first decodes
//   preempt   a resident second model's first decode step right after a step of the first
//   graphs    decode graphs captured, replayed and run eagerly over the whole run
// Usage: tidepool-engine-bench [--shape qwen2.5-7b] [--dir /dev/shm/tidepool-bench-<shape>-hf] [--out result.json]
// Prints one JSON object (also written to --out). Needs a CUDA device.
#include <cuda_runtime_api.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "bench_synth.h"
#include "cuda_backend.h"
#include "cuda_device.h"
#include "errors.h"
#include "json.h"
#include "memory_plan.h"
#include "model.h"

using namespace tidepool;

namespace {

#define BENCH_CHECK(call)                                                                         \
  do {                                                                                            \
    cudaError_t e_ = (call);                                                                      \
    if (e_ != cudaSuccess) {                                                                      \
      std::fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
      std::exit(1);                                                                               \
    }                                                                                             \
  } while (0)

double now_ms() {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

// GB/s of a copy, median of reps, timed with events; bytes_counted per copy.
double copy_gbps(void* dst, const void* src, size_t bytes, cudaMemcpyKind kind, double bytes_counted, int reps = 7) {
  cudaEvent_t a, b;
  BENCH_CHECK(cudaEventCreate(&a));
  BENCH_CHECK(cudaEventCreate(&b));
  BENCH_CHECK(cudaMemcpy(dst, src, bytes, kind));  // warm-up
  std::vector<double> ms;
  for (int i = 0; i < reps; i++) {
    BENCH_CHECK(cudaEventRecord(a));
    BENCH_CHECK(cudaMemcpyAsync(dst, src, bytes, kind));
    BENCH_CHECK(cudaEventRecord(b));
    BENCH_CHECK(cudaEventSynchronize(b));
    float t = 0;
    BENCH_CHECK(cudaEventElapsedTime(&t, a, b));
    ms.push_back(t);
  }
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  return bytes_counted / median(ms) / 1e6;
}

Json ceilings(double& h2d, double& d2d) {
  const size_t bytes = size_t(1) << 30;
  void *host = nullptr, *d0 = nullptr, *d1 = nullptr;
  BENCH_CHECK(cudaHostAlloc(&host, bytes, cudaHostAllocDefault));
  BENCH_CHECK(cudaMalloc(&d0, bytes));
  BENCH_CHECK(cudaMalloc(&d1, bytes));
  BENCH_CHECK(cudaMemset(d0, 1, bytes));
  std::fill(static_cast<char*>(host), static_cast<char*>(host) + bytes, 1);
  h2d = copy_gbps(d0, host, bytes, cudaMemcpyHostToDevice, bytes);
  const double d2h = copy_gbps(host, d0, bytes, cudaMemcpyDeviceToHost, bytes);
  d2d = copy_gbps(d1, d0, bytes, cudaMemcpyDeviceToDevice, 2.0 * bytes);  // read + write
  cudaFreeHost(host);
  cudaFree(d0);
  cudaFree(d1);
  Json j = Json::object();
  j.set("h2d_pinned_gbps", h2d);
  j.set("d2h_pinned_gbps", d2h);
  j.set("d2d_gbps", d2d);
  return j;
}

// A block table of consecutive pages for a sequence of `len` tokens, starting at page `first`.
std::vector<int32_t> table(const KvLayout& l, int len, int first) {
  const int blocks = (len + l.block_tokens - 1) / l.block_tokens;
  std::vector<int32_t> p(static_cast<size_t>(blocks) * l.pages_per_block);
  for (size_t i = 0; i < p.size(); i++) p[i] = first + static_cast<int32_t>(i);
  return p;
}

struct Setup {
  cuda::CudaBackend* be;
  int slot;
  const Model* model;
  KvLayout layout;
};

// Median wall time of forward over `batch` (forward returns after the logits are on the host).
double time_forward(const Setup& s, const std::vector<BatchEntry>& batch, size_t rows, int warm, int reps) {
  std::vector<float> logits(rows * s.model->config.vocab_size);
  std::vector<double> ms;
  for (int i = 0; i < warm + reps; i++) {
    const double t0 = now_ms();
    s.be->forward(s.slot, batch, logits.data());
    if (i >= warm) ms.push_back(now_ms() - t0);
  }
  return median(ms);
}

Json decode_bench(const Setup& s, double d2d, size_t weight_bytes) {
  Json out = Json::array();
  const ModelConfig& c = s.model->config;
  for (int ctx : {128, 1024}) {
    for (int B : {1, 8, 32}) {
      std::vector<std::vector<int32_t>> tables, tokens(B, std::vector<int32_t>{1});
      int next = 0;
      for (int b = 0; b < B; b++) {
        tables.push_back(table(s.layout, ctx, next));
        next += static_cast<int>(tables.back().size());
      }
      std::vector<BatchEntry> batch(B);
      for (int b = 0; b < B; b++) {
        tokens[b][0] = (b * 997 + 11) % c.vocab_size;
        batch[b].tokens = tokens[b].data();
        batch[b].n_tokens = 1;
        batch[b].start_pos = ctx - 1;
        batch[b].pages = tables[b].data();
        batch[b].n_pages = static_cast<int>(tables[b].size());
      }
      const double ms = time_forward(s, batch, B, 3, 20);
      const double kv_bytes = static_cast<double>(B) * ctx * c.num_layers * 2.0 * c.kv_dim() * 2;
      const double roofline_ms = (weight_bytes + kv_bytes) / d2d / 1e6;
      Json j = Json::object();
      j.set("batch", B);
      j.set("context", ctx);
      j.set("ms", ms);
      j.set("roofline_ms", roofline_ms);
      j.set("fraction_of_roofline", roofline_ms / ms);
      out.push(std::move(j));
      std::fprintf(stderr, "decode b=%d ctx=%d: %.3f ms (roofline %.3f ms)\n", B, ctx, ms, roofline_ms);
    }
  }
  return out;
}

Json prefill_bench(const Setup& s, size_t params) {
  Json out = Json::array();
  for (int L : {128, 1024, 2048}) {
    std::vector<int32_t> tokens(L), pages = table(s.layout, L, 0);
    for (int i = 0; i < L; i++) tokens[i] = (i * 7919 + 3) % s.model->config.vocab_size;
    BatchEntry e;
    e.tokens = tokens.data();
    e.n_tokens = L;
    e.pages = pages.data();
    e.n_pages = static_cast<int>(pages.size());
    const double ms = time_forward(s, {e}, 1, 1, 5);
    Json j = Json::object();
    j.set("tokens", L);
    j.set("ms", ms);
    j.set("tflops", 2.0 * params * L / ms / 1e9);
    out.push(std::move(j));
    std::fprintf(stderr, "prefill 1x%d: %.2f ms\n", L, ms);
  }
  return out;
}

Json kv_swap_bench(cuda::CudaBackend& be, size_t page_bytes, size_t pages) {
  std::vector<int32_t> ids(pages);
  for (size_t i = 0; i < pages; i++) ids[i] = static_cast<int32_t>(i);
  std::vector<uint8_t> host(pages * page_bytes);
  std::vector<double> park, restore;
  for (int i = 0; i < 5; i++) {
    double t0 = now_ms();
    be.kv_to_host(ids, host.data());
    park.push_back(now_ms() - t0);
    t0 = now_ms();
    be.kv_from_host(ids, host.data());
    restore.push_back(now_ms() - t0);
  }
  const double bytes = static_cast<double>(pages * page_bytes);
  Json j = Json::object();
  j.set("bytes", bytes);
  j.set("park_gbps", bytes / median(park) / 1e6);
  j.set("restore_gbps", bytes / median(restore) / 1e6);
  return j;
}

std::string arg(int argc, char** argv, const std::string& name, const std::string& fallback) {
  for (int i = 1; i + 1 < argc; i++)
    if (argv[i] == "--" + name) return argv[i + 1];
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  if (const int gate = cuda::gpu_test_gate("tidepool-engine-bench")) return gate;  // 77 only without a GPU
  const bench::Shape shape = bench::shape_by_name(arg(argc, argv, "shape", "qwen2.5-7b"));
  const std::string dir = arg(argc, argv, "dir", "/dev/shm/tidepool-bench-" + shape.name + "-hf");
  const std::string out_path = arg(argc, argv, "out", "");
  try {
    Json result = Json::object();
    cudaDeviceProp prop{};
    BENCH_CHECK(cudaGetDeviceProperties(&prop, 0));
    result.set("device", std::string(prop.name));
    result.set("engine", "cuda");
    result.set("shape", shape.name);
    double h2d = 0, d2d = 0;
    result.set("ceilings", ceilings(h2d, d2d));
    std::fprintf(stderr, "ceilings: h2d %.1f GB/s, d2d %.1f GB/s\n", h2d, d2d);

    double t0 = now_ms();
    if (!bench::synthesize(dir, shape, 1)) throw EngineError("internal", "cannot write " + dir);
    std::fprintf(stderr, "synth %s in %s: %.1f s\n", shape.name.c_str(), dir.c_str(), (now_ms() - t0) / 1000);
    std::unique_ptr<Model> model = load_model_dir(dir);
    std::unique_ptr<Model> second = load_model_dir(dir);  // a second mapping: the preempt target
    model->prefault();
    size_t params = 0;
    for (const auto& f : model->files)
      for (const TensorView& t : f->tensors()) params += static_cast<size_t>(t.numel());

    cuda::CudaBackend be(BackendOptions{});
    MemoryRequest request;  // the engine's default budget (a share of the device's free memory), 8 GiB of KV
    request.kv_budget_bytes = size_t(8) << 30;
    const MemoryPlan plan = plan_memory(request, be.memory_source());
    be.init_memory(plan);
    const size_t page_bytes = plan.kv_page_bytes;
    const KvLayout layout = make_kv_layout(model->config, 16, page_bytes, be.kv_element_bytes());

    // switch: the first load of a mapping pins it (once per mapping, as the engine does at `map`); the
    // loads after it only copy, which is what a model switch costs. Then a second mapping with pinning off
    // measures the staging ring.
    Json switches = Json::array();
    auto record = [&](bool first_of_mapping) {
      const cuda::LoadStats st = be.last_load();
      Json j = Json::object();
      j.set("path", st.pinned ? "pinned_mapping" : "staging_ring");
      j.set("staging_reason", st.staging_reason);
      j.set("copy_layout", st.per_tensor ? "per_tensor" : "file_span");
      j.set("first_load_of_mapping", first_of_mapping);
      j.set("bytes", static_cast<double>(st.bytes));
      j.set("total_ms", st.total_ms);
      j.set("copy_ms", st.copy_ms);
      j.set("fixed_ms", st.fixed_ms);
      j.set("pin_ms", st.pin_ms);
      j.set("gbps", st.gbps());
      j.set("fraction_of_h2d", st.gbps() / h2d);
      switches.push(std::move(j));
    };
    int slot = -1;
    for (int i = 0; i < 4; i++) {
      slot = be.load_slot(*model, layout);
      record(i == 0);
      if (i < 3) be.free_slot(slot);
    }
    {
      be.set_host_pinning(false);  // a fresh mapping that is never pinned: the staging ring
      std::unique_ptr<Model> staged = load_model_dir(dir);
      staged->prefault();
      const int staged_slot = be.load_slot(*staged, layout);
      record(true);
      be.free_slot(staged_slot);
      be.release_host(*staged);
      be.set_host_pinning(true);
    }
    result.set("switch", std::move(switches));

    Setup s{&be, slot, model.get(), layout};
    result.set("decode", decode_bench(s, d2d, model->weight_bytes));
    result.set("prefill", prefill_bench(s, params));
    result.set("kv_swap", kv_swap_bench(be, page_bytes, 2048));

    // prefetch overlap: model B is copied into a free slot by a loader thread (the pager's own stream)
    // while A decodes on the compute stream, as the engine's loader does; A's step time during the copy
    // against A alone shows whether the two overlap.
    std::vector<int32_t> tok = {5}, pages_a = table(layout, 128, 0), pages_b = table(layout, 128, 4096);
    BatchEntry ea{tok.data(), 1, 127, pages_a.data(), static_cast<int>(pages_a.size()), false};
    BatchEntry eb{tok.data(), 1, 127, pages_b.data(), static_cast<int>(pages_b.size()), false};
    std::vector<double> alone, during;
    for (int i = 0; i < 10; i++) alone.push_back(time_forward(s, {ea}, 1, i == 0 ? 1 : 0, 1));
    be.prepare_host(*second);  // pinned once per mapping, before the switch, as `map` does
    std::atomic<bool> copied{false};
    int slot_b = -1;
    double copy_wall_ms = 0;
    std::string load_error;
    std::thread loader([&] {
      const double t = now_ms();
      try {
        slot_b = be.load_slot(*second, layout);
      } catch (const std::exception& e) {
        load_error = e.what();
      }
      copy_wall_ms = now_ms() - t;
      copied = true;
    });
    while (!copied) during.push_back(time_forward(s, {ea}, 1, 0, 1));
    loader.join();
    if (!load_error.empty()) throw EngineError("internal", "prefetch load failed: " + load_error);
    Json overlap = Json::object();
    overlap.set("load_ms", copy_wall_ms);
    overlap.set("decode_ms_alone", median(alone));
    overlap.set("decode_ms_during_load", median(during));
    overlap.set("decode_steps_during_load", static_cast<double>(during.size()));
    overlap.set("note", "batch 1, context 128; the load is a pinned-mapping copy on the pager stream");
    result.set("prefetch_overlap", std::move(overlap));

    // preempt: model B resident in a second slot; one step of A, then B's first token
    Setup sb{&be, slot_b, second.get(), layout};
    std::vector<double> pre;
    for (int i = 0; i < 10; i++) {
      time_forward(s, {ea}, 1, 0, 1);
      pre.push_back(time_forward(sb, {eb}, 1, 0, 1));
    }
    Json preempt = Json::object();
    preempt.set("ms", median(pre));
    preempt.set("note", "in-process: A's step then B's first decode step (batch 1, context 128); excludes the socket");
    result.set("preempt", std::move(preempt));
    const cuda::GraphStats g = be.graph_stats();
    Json graphs = Json::object();
    graphs.set("captures", static_cast<double>(g.captures));
    graphs.set("replays", static_cast<double>(g.replays));
    graphs.set("eager_fallbacks", static_cast<double>(g.eager_fallbacks));
    result.set("graphs", std::move(graphs));
    const cuda::MemoryStats m = be.memory_stats();
    Json mem = Json::object();
    mem.set("reserved_bytes", static_cast<double>(m.reserved_bytes));
    mem.set("arena_used_bytes", static_cast<double>(m.arena_used_bytes));
    result.set("memory", std::move(mem));

    const std::string text = result.dump();
    std::printf("%s\n", text.c_str());
    if (!out_path.empty()) std::ofstream(out_path) << text << "\n";
    return 0;
  } catch (const EngineError& e) {
    std::fprintf(stderr, "engine bench: %s: %s\n", e.code().c_str(), e.what());
    return 1;
  }
}
