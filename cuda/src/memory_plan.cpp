#include "memory_plan.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "errors.h"

namespace tidepool {

namespace {

constexpr size_t kHostFallbackBytes = size_t(8) << 30;  // physical memory unknown: budget of 4 GiB

std::string gib(size_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GiB", static_cast<double>(bytes) / (size_t(1) << 30));
  return text;
}

std::string bytes_and_gib(size_t bytes) { return std::to_string(bytes) + " bytes (" + gib(bytes) + ")"; }

size_t default_budget(const MemorySource& source) {
  if (source.device) return static_cast<size_t>(static_cast<double>(source.available_bytes) * source.default_fraction);
  const size_t host = source.available_bytes > 0 ? source.available_bytes : kHostFallbackBytes;
  return host / 2;
}

}  // namespace

MemoryPlan plan_memory(const MemoryRequest& request, const MemorySource& source) {
  if (request.kv_page_bytes == 0 || request.kv_page_bytes % 256 != 0)
    throw EngineError("bad_request", "KV page bytes must be a positive multiple of 256");
  MemoryPlan p;
  p.kv_page_bytes = request.kv_page_bytes;
  p.budget_bytes = request.budget_bytes > 0 ? request.budget_bytes : default_budget(source);
  p.budget_bytes = p.budget_bytes / 256 * 256;
  if (source.device && p.budget_bytes > source.available_bytes)
    throw EngineError("out_of_memory", "memory budget of " + bytes_and_gib(p.budget_bytes) + " exceeds the " +
                                           bytes_and_gib(source.available_bytes) + " free on " + source.name +
                                           "; lower --memory-budget-bytes or leave it unset");
  const size_t kv_budget = request.kv_budget_bytes > 0 ? request.kv_budget_bytes : p.budget_bytes / 4;
  p.kv_pages = kv_budget / p.kv_page_bytes;
  p.kv_bytes = p.kv_pages * p.kv_page_bytes;
  const size_t scratch =
      request.scratch_bytes > 0 ? request.scratch_bytes : std::min(p.budget_bytes / 16, kMaxDefaultScratchBytes);
  p.scratch_bytes = (scratch + 255) / 256 * 256;
  if (p.kv_pages == 0)
    throw EngineError("bad_request", "KV budget of " + std::to_string(kv_budget) +
                                         " bytes is smaller than one KV page (" + std::to_string(p.kv_page_bytes) +
                                         " bytes)");
  if (p.kv_bytes + p.scratch_bytes >= p.budget_bytes)
    throw EngineError("bad_request",
                      "KV pool " + bytes_and_gib(p.kv_bytes) + " plus scratch " + bytes_and_gib(p.scratch_bytes) +
                          " leave no room for weights in the memory budget of " + bytes_and_gib(p.budget_bytes));
  return p;
}

MemorySource host_memory_source() {
  MemorySource s;
  s.name = "host memory";
  const long long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) s.available_bytes = static_cast<size_t>(pages) * static_cast<size_t>(page);
  return s;
}

std::string describe_plan(const MemoryPlan& p, const MemorySource& source) {
  return "memory budget " + gib(p.budget_bytes) + " of " + source.name + " (" + gib(source.available_bytes) +
         (source.device ? " free" : " physical") + ") = KV pool " + gib(p.kv_bytes) + " (" +
         std::to_string(p.kv_pages) + " pages) + scratch " + gib(p.scratch_bytes) + " + weights arena " +
         gib(p.weights_arena_bytes());
}

}  // namespace tidepool
