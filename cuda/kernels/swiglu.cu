// SwiGLU of the MLP, written straight as the down projection's input: out (T, I) in the activation dtype
// A = silu(gate) * up, from the f32 gate and up projections (T rows of stride ld). silu(g) = g / (1 + e^-g)
// in f32, rounded once to A (backends/precision.h).

#include "act_io.cuh"

namespace tidepool::cuda {

// ---------------------------------------------------------------- kernels

// Grid-stride over groups of 4 outputs; I % 4 == 0.
template <typename A>
__global__ void swiglu_kernel(const float* gate, const float* up, int ld, int I, size_t groups, A* out) {
  const int per_row = I / 4;
  for (size_t q = blockIdx.x * static_cast<size_t>(blockDim.x) + threadIdx.x; q < groups;
       q += static_cast<size_t>(gridDim.x) * blockDim.x) {
    const size_t t = q / per_row, c = (q % per_row) * 4;
    const float4 g = load4_act(gate + t * ld, c), u = load4_act(up + t * ld, c);
    store4(out + t * I, c,
           make_float4(g.x / (1.0f + expf(-g.x)) * u.x, g.y / (1.0f + expf(-g.y)) * u.y,
                       g.z / (1.0f + expf(-g.z)) * u.z, g.w / (1.0f + expf(-g.w)) * u.w));
  }
}

// ---------------------------------------------------------------- launchers

void launch_swiglu(const float* gate, const float* up, int ld, int T, int I, void* out, WeightType act,
                   cudaStream_t s) {
  KERNEL_ASSERT(gate && up && out && T >= 0 && I > 0 && I % 8 == 0 && ld >= I && ld % 4 == 0);
  KERNEL_ASSERT(reinterpret_cast<uintptr_t>(gate) % 16 == 0 && reinterpret_cast<uintptr_t>(up) % 16 == 0);
  const size_t groups = static_cast<size_t>(T) * (I / 4);
  if (groups == 0) return;
  const int blocks = static_cast<int>(std::min<size_t>((groups + 255) / 256, 65535));
  dispatch_act(act, [&](auto tag) {
    using A = decltype(tag);
    swiglu_kernel<A><<<blocks, 256, 0, s>>>(gate, up, ld, I, groups, static_cast<A*>(out));
  });
  LAUNCH_CHECK();
}

}  // namespace tidepool::cuda
