// Fuzz target: parse_safetensors on arbitrary bytes. It must either throw EngineError("bad_model") or
// return tensors whose views lie inside the image and whose byte counts match dtype x shape. Every view is
// read at both ends so AddressSanitizer sees any out-of-bounds pointer the parser hands out.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "errors.h"
#include "fuzz_check.h"
#include "safetensors.h"

using namespace tidepool;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // A private copy sized exactly to the input, so a read one byte past the end is a heap overflow.
  std::vector<uint8_t> image(data, data + size);
  const uint8_t* begin = image.data();
  try {
    const std::vector<TensorView> tensors = parse_safetensors(begin, image.size(), "fuzz.safetensors");
    volatile uint8_t sink = 0;
    for (const TensorView& t : tensors) {
      FUZZ_CHECK(t.dtype != DType::Other || !t.dtype_label.empty());
      // Overflow-checked here, so a shape whose element count wraps fails in plain g++ builds too.
      int64_t numel = 1;
      for (int64_t dim : t.shape) FUZZ_CHECK(dim >= 0 && !__builtin_mul_overflow(numel, dim, &numel));
      FUZZ_CHECK(numel == t.numel());
      if (t.dtype != DType::Other) FUZZ_CHECK(t.bytes == static_cast<size_t>(numel) * dtype_bytes(t.dtype));
      FUZZ_CHECK(t.data >= begin + 8 && t.data + t.bytes <= begin + image.size());
      if (t.bytes > 0) sink ^= t.data[0] ^ t.data[t.bytes - 1];
      (void)t.shape_string();
    }
    (void)sink;
  } catch (const EngineError& e) {
    FUZZ_CHECK(e.code() == "bad_model");
    FUZZ_CHECK(std::strncmp(e.what(), "fuzz.safetensors: ", 18) == 0);
  }
  return 0;
}
