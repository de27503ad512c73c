// One exception type for every failure the protocol reports; `code` is a protocol error code
// (bad_request, not_found, bad_model, out_of_memory, busy, context_overflow, unsupported, internal).
#pragma once

#include <stdexcept>
#include <string>

namespace tidepool {

class EngineError : public std::runtime_error {
 public:
  EngineError(std::string code, const std::string& message) : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

}  // namespace tidepool
