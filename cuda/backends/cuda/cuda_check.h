// CUDA runtime checks for the backend's host code. In the serving path a failure becomes an EngineError
// (the protocol turns it into an error reply): cudaErrorMemoryAllocation maps to out_of_memory, a device
// fault that leaves the context unusable to device_lost (kernels.h: is_sticky_cuda_error).
#pragma once

#include <cuda_runtime_api.h>

#include <string>

#include "../../kernels/kernels.h"

#define CUDA_TRY(call)                                                                            \
  do {                                                                                            \
    cudaError_t err_ = (call);                                                                    \
    if (err_ != cudaSuccess) ::tidepool::cuda::throw_cuda_error(__FILE__, __LINE__, #call, err_); \
  } while (0)

namespace tidepool::cuda {

// Runs f; an EngineError from inside gets the phase in front of its message, so a device fault that
// surfaces at a later launch or synchronisation still names the step that was running. `describe` is
// called only on failure.
template <typename Describe, typename F>
auto in_phase(Describe&& describe, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const EngineError& e) {
    throw EngineError(e.code(), describe() + ": " + e.what());
  }
}

}  // namespace tidepool::cuda
