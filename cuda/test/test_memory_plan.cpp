// plan_memory, the engine's budget arithmetic, on the hosts and devices it must handle: a device budget comes
// from the device's free memory whatever the host has (a DGX-sized host included), its parts always fit the
// one reservation, a budget past the device is refused at startup, and every bad split names its parts.
#include <cstdio>
#include <string>

#include "errors.h"
#include "memory_plan.h"
#include "test_support.h"

using namespace tidepool;

namespace {

constexpr size_t GiB = size_t(1) << 30, MiB = size_t(1) << 20;

MemorySource device(size_t free_bytes) {
  MemorySource s;
  s.name = "test device";
  s.device = true;
  s.available_bytes = free_bytes;
  s.default_fraction = 0.90;
  return s;
}

MemorySource host(size_t ram) {
  MemorySource s;
  s.name = "host memory";
  s.available_bytes = ram;
  return s;
}

std::string error_code(const MemoryRequest& r, const MemorySource& s, std::string* message = nullptr) {
  try {
    plan_memory(r, s);
  } catch (const EngineError& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return "";
}

void check_parts(const MemoryPlan& p) {
  CHECK(p.kv_bytes == p.kv_pages * p.kv_page_bytes);
  CHECK(p.kv_bytes + p.scratch_bytes + p.weights_arena_bytes() == p.budget_bytes);
  CHECK(p.scratch_bytes % 256 == 0 && p.budget_bytes % 256 == 0);
}

void device_budget_comes_from_the_device() {
  const MemoryPlan p = plan_memory(MemoryRequest{}, device(79 * GiB));  // an H100's free memory
  CHECK(p.budget_bytes == static_cast<size_t>(79 * GiB * 0.90) / 256 * 256);
  CHECK(p.kv_bytes <= p.budget_bytes / 4 && p.kv_bytes > p.budget_bytes / 4 - p.kv_page_bytes);
  CHECK(p.scratch_bytes == kMaxDefaultScratchBytes);
  CHECK(p.weights_arena_bytes() > 52 * GiB);
  check_parts(p);
  std::printf("H100 (79 GiB free): %s\n", describe_plan(p, device(79 * GiB)).c_str());
}

// The host's RAM plays no part on a device: a 2 TiB host gets the same plan as a 16 GiB one (the old
// half-of-RAM budget made init_kv_pool fail past ~560 GiB of RAM).
void dgx_sized_host_does_not_matter() {
  const MemoryPlan p = plan_memory(MemoryRequest{}, device(139 * GiB));  // an H200
  CHECK(p.budget_bytes < 139 * GiB);
  check_parts(p);
  const MemoryPlan big_host = plan_memory(MemoryRequest{}, host(2048 * GiB));
  CHECK(big_host.budget_bytes == 1024 * GiB);  // a host backend still takes half the host
  check_parts(big_host);
}

void explicit_budget_must_fit_the_device() {
  MemoryRequest r;
  r.budget_bytes = 90 * GiB;
  std::string message;
  CHECK(error_code(r, device(79 * GiB), &message) == "out_of_memory");
  CHECK(message.find("exceeds") != std::string::npos && message.find("test device") != std::string::npos);
  r.budget_bytes = 40 * GiB;
  const MemoryPlan p = plan_memory(r, device(79 * GiB));
  CHECK(p.budget_bytes == 40 * GiB && p.kv_bytes == 10 * GiB && p.scratch_bytes == 512 * MiB);
  check_parts(p);
}

void explicit_parts_are_kept() {
  MemoryRequest r;
  r.budget_bytes = 2 * GiB;
  r.kv_budget_bytes = 256 * MiB + 1000;  // not a whole number of pages: rounded down
  r.scratch_bytes = 100 * MiB + 1;       // rounded up to 256 bytes
  const MemoryPlan p = plan_memory(r, device(10 * GiB));
  CHECK(p.kv_bytes == 256 * MiB && p.kv_pages == 4096);
  CHECK(p.scratch_bytes == 100 * MiB + 256);
  check_parts(p);
}

void small_budgets_get_a_small_scratch() {
  MemoryRequest r;
  r.budget_bytes = 48 * MiB;
  r.kv_budget_bytes = 8 * MiB;
  const MemoryPlan p = plan_memory(r, host(24 * GiB));
  CHECK(p.scratch_bytes == 3 * MiB);  // a sixteenth
  check_parts(p);
}

void bad_splits_are_refused() {
  MemoryRequest r;
  r.budget_bytes = 1 * GiB;
  r.kv_budget_bytes = 1000;  // under one page
  std::string message;
  CHECK(error_code(r, device(10 * GiB), &message) == "bad_request" && message.find("one KV page") != std::string::npos);
  r.kv_budget_bytes = 1 * GiB;  // nothing left for weights
  CHECK(error_code(r, device(10 * GiB), &message) == "bad_request" &&
        message.find("no room for weights") != std::string::npos);
  r.kv_budget_bytes = 0;
  r.kv_page_bytes = 1000;  // not a multiple of 256
  CHECK(error_code(r, device(10 * GiB)) == "bad_request");
  CHECK(error_code(MemoryRequest{}, device(0)) == "bad_request");  // a device with nothing free
}

}  // namespace

int main() {
  device_budget_comes_from_the_device();
  dgx_sized_host_does_not_matter();
  explicit_budget_must_fit_the_device();
  explicit_parts_are_kept();
  small_budgets_get_a_small_scratch();
  bad_splits_are_refused();
  std::printf("memory plan: PASS\n");
  return 0;
}
