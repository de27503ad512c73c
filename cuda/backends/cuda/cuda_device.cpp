#include "cuda_device.h"

#include <cuda_runtime_api.h>
#include <dirent.h>

#include <cstdio>
#include <cstdlib>
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

CudaProbe classify_cuda(int device_count_error, int devices, int driver_version, int runtime_version,
                        bool nvidia_device_node) {
  const cudaError_t err = static_cast<cudaError_t>(device_count_error);
  CudaProbe p;
  p.devices = devices;
  p.driver_version = driver_version;
  p.runtime_version = runtime_version;
  if (err == cudaSuccess && devices > 0) {
    p.state = CudaProbe::State::Ready;
  } else if (err == cudaSuccess || err == cudaErrorNoDevice) {
    p.state = CudaProbe::State::NoDevice;
    p.message = "no CUDA device (cudaErrorNoDevice)";
  } else if (err == cudaErrorInsufficientDriver && driver_version == 0 && !nvidia_device_node) {
    p.state = CudaProbe::State::NoDriver;
    p.message = "no CUDA driver installed and no /dev/nvidia* device";
  } else if (err == cudaErrorInsufficientDriver && driver_version > 0) {
    p.message = "the CUDA driver (" + version_text(driver_version) +
                ") is older than the runtime this engine was built with (" + version_text(runtime_version) +
                "); update the NVIDIA driver";
  } else {
    p.message =
        std::string("cudaGetDeviceCount failed: ") + cudaGetErrorName(err) + " (" + cudaGetErrorString(err) + ")";
    if (driver_version == 0) p.message += "; /dev/nvidia* exists but no CUDA driver library was found";
  }
  return p;
}

CudaProbe probe_cuda() {
  int runtime = 0, driver = 0, devices = 0;
  cudaRuntimeGetVersion(&runtime);
  cudaDriverGetVersion(&driver);  // 0 when libcuda is absent
  const cudaError_t err = cudaGetDeviceCount(&devices);
  cudaGetLastError();
  return classify_cuda(err, devices, driver, runtime, has_nvidia_device_node());
}

int gpu_test_gate(const char* test_name) {
  const CudaProbe p = probe_cuda();
  if (p.state == CudaProbe::State::Ready) return 0;
  const char* required = std::getenv("TIDEPOOL_REQUIRE_GPU");
  const bool skip = p.absent() && !(required && *required && std::strcmp(required, "0") != 0);
  std::printf(skip ? "SKIP: %s: %s\n" : "FAIL: %s: %s%s\n", test_name, p.message.c_str(),
              skip || !p.absent() ? "" : " (TIDEPOOL_REQUIRE_GPU is set)");
  std::fflush(stdout);
  return skip ? 77 : 1;
}

}  // namespace tidepool::cuda
