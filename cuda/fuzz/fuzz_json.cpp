// Fuzz target: the JSON reader behind the engine protocol, config.json and safetensors headers. Arbitrary
// text either throws JsonError or parses to a value whose dump parses back to the same dump (the writer
// emits only what the reader accepts, and a second round trip changes nothing).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "json.h"

using namespace tidepool;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Json value;
  try {
    value = Json::parse(reinterpret_cast<const char*>(data), size);
  } catch (const JsonError&) {
    return 0;
  }
  const std::string once = value.dump();
  Json again;
  try {
    again = Json::parse(once);
  } catch (const JsonError& e) {
    std::fprintf(stderr, "dump is not parseable (%s): %s\n", e.what(), once.c_str());
    std::abort();
  }
  FUZZ_CHECK(again.kind() == value.kind());
  FUZZ_CHECK(again.size() == value.size());
  FUZZ_CHECK(Json::parse(again.dump()).dump() == again.dump());
  return 0;
}
