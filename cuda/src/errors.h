// One exception type for every failure the protocol reports; `code` is a protocol error code
// (bad_request, not_found, bad_model, out_of_memory, busy, context_overflow, unsupported, internal,
// device_lost).
#pragma once

#include <stdexcept>
#include <string>

namespace tidepool {

// The device faulted and its context is unusable (CUDA: an illegal address, a launch failure, an ECC
// error...): the request fails with this code and the engine exits for its supervisor to restart it.
constexpr const char* kDeviceLost = "device_lost";

class EngineError : public std::runtime_error {
 public:
  EngineError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace tidepool
