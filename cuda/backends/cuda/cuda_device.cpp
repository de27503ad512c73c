#include "cuda_device.h"

#include <cuda_runtime_api.h>
#include <dirent.h>

#include <cstdio>
#include <cstring>

namespace tidepool::cuda {

namespace {

bool has_nvidia_device_node() {
  DIR* dev = ::opendir("/dev");
  if (!dev) return false;
  bool found = false;
  while (const dirent* e = ::readdir(dev)) found = found || std::strncmp(e->d_name, "nvidia", 6) == 0;
  ::closedir(dev);
  return found;
}

std::string version_text(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }

}  // namespace

CudaProbe probe_cuda() {
  CudaProbe p;
  cudaRuntimeGetVersion(&p.runtime_version);
  cudaDriverGetVersion(&p.driver_version);  // 0 when libcuda is absent
  const cudaError_t err = cudaGetDeviceCount(&p.devices);
  cudaGetLastError();
  if (err == cudaSuccess && p.devices > 0) {
    p.state = CudaProbe::State::Ready;
    return p;
  }
  if (err == cudaSuccess || err == cudaErrorNoDevice) {
    p.state = CudaProbe::State::NoDevice;
    p.message = "no CUDA device (cudaErrorNoDevice)";
  } else if (err == cudaErrorInsufficientDriver && p.driver_version == 0 && !has_nvidia_device_node()) {
    p.state = CudaProbe::State::NoDriver;
    p.message = "no CUDA driver installed and no /dev/nvidia* device";
  } else if (err == cudaErrorInsufficientDriver && p.driver_version > 0) {
    p.message = "the CUDA driver (" + version_text(p.driver_version) + ") is older than the runtime this engine was built with (" +
                version_text(p.runtime_version) + "); update the NVIDIA driver";
  } else {
    p.message = std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
    if (p.driver_version == 0) p.message += "; /dev/nvidia* exists but no CUDA driver library was found";
  }
  return p;
}

int gpu_test_gate(const char* test_name) {
  const CudaProbe p = probe_cuda();
  if (p.state == CudaProbe::State::Ready) return 0;
  std::printf(p.absent() ? "SKIP: %s: %s\n" : "FAIL: %s: %s\n", test_name, p.message.c_str());
  std::fflush(stdout);
  return p.absent() ? 77 : 1;
}

}  // namespace tidepool::cuda
