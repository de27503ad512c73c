// CUDA runtime checks for the backend's host code. In the serving path a failure becomes an
// EngineError (the protocol turns it into an error reply); cudaErrorMemoryAllocation maps to out_of_memory.
#pragma once

#include <cuda_runtime_api.h>

#include "../../kernels/kernels.h"

#define CUDA_TRY(call)                                                          \
  do {                                                                          \
    cudaError_t err_ = (call);                                                  \
    if (err_ != cudaSuccess) ::tidepool::cuda::throw_cuda_error(__FILE__, __LINE__, #call, err_); \
  } while (0)
