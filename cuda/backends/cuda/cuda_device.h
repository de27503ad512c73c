// Is there a CUDA device this process can use? One probe for the backend and the GPU tests, so a broken
// GPU machine fails loudly instead of looking like a machine without a GPU.
//   no_device: cudaGetDeviceCount says cudaErrorNoDevice (or zero devices);
//   no_driver: no CUDA driver is installed at all (cudaDriverGetVersion gives 0) and the machine has no
//              /dev/nvidia* device node: a machine without a GPU;
//   broken:    anything else, a driver older than the runtime included (a GPU machine that cannot run us).
#pragma once

#include <string>

namespace tidepool::cuda {

struct CudaProbe {
  enum class State { Ready, NoDevice, NoDriver, Broken } state = State::Broken;
  int devices = 0;
  int driver_version = 0;   // e.g. 12020 for 12.2; 0 when no driver is installed
  int runtime_version = 0;  // the runtime this binary was built against
  std::string message;      // why it is not Ready

  // Only a machine without a GPU may skip a GPU test; a broken one must fail it.
  bool absent() const { return state == State::NoDevice || state == State::NoDriver; }
};

CudaProbe probe_cuda();
// The decision itself, from what the runtime reported (unit-tested without a GPU).
CudaProbe classify_cuda(int device_count_error, int devices, int driver_version, int runtime_version,
                        bool nvidia_device_node);

// For the GPU test binaries: prints "SKIP: <reason>" and returns 77 where the machine has no GPU, prints
// "FAIL: <reason>" and returns 1 where CUDA is broken, and returns 0 when a device is ready.
// TIDEPOOL_REQUIRE_GPU=1 (cuda/bench/run-on-gpu.sh sets it) turns the skip into a failure too.
int gpu_test_gate(const char* test_name);

}  // namespace tidepool::cuda
