// The CUDA backend's storage precision, written once so the CPU backend can emulate it
// (BackendOptions::emulate_cuda_precision, env TIDEPOOL_CPU_PRECISION=cuda). Arithmetic is f32 on both
// backends; what differs is where values are stored in a narrower type. The CUDA layer loop rounds at
// exactly these points and, but for the one exception below, nowhere else:
//   - the activation dtype (the model's linear-weight dtype: bf16 or f16, or f32 for f32 checkpoints)
//     holds every input of a linear layer or of attention: the normed rows (input norm, post-attention
//     norm, final norm), the roped queries, the attention output and the SwiGLU output;
//   - K and V rows are stored as bf16, whatever the activation dtype;
//   - the residual stream, every linear output (split-K partial sums included), the norms' statistics,
//     RoPE, the softmax and the logits stay f32.
// One exception the CPU cannot emulate: flash attention (prefill steps of more than 32 tokens) rounds q and
// the softmax probabilities to bf16 inside the kernel, per K/V tile (docs/cuda.md, Precision).
#pragma once

#include <string>

#include "../src/errors.h"
#include "../src/model.h"

namespace tidepool {

// Env var that switches the CPU backend into CUDA precision emulation: "cuda" on, "f32" (or unset) off.
constexpr const char* kCpuPrecisionEnv = "TIDEPOOL_CPU_PRECISION";

// The dtype every linear weight of the model shares (the layers' projections and lm_head). Activations
// between layers are stored in it. Throws EngineError("unsupported") naming two tensors that disagree, and
// when the q/k/v biases are not all of one dtype.
inline DType activation_dtype(const Model& m) {
  const TensorView* first = m.lm_head;
  auto same = [&](const TensorView* t) {
    if (t && t->dtype != first->dtype)
      throw EngineError("unsupported", "linear weights mix dtypes (" + first->name + " is " + first->dtype_label +
                                           ", " + t->name + " is " + t->dtype_label +
                                           "); the engine needs one dtype for them");
  };
  for (const LayerWeights& w : m.layers)
    for (const TensorView* t : {w.q, w.k, w.v, w.o, w.gate, w.up, w.down}) same(t);
  for (const LayerWeights& w : m.layers) {
    if (!w.q_bias) continue;
    for (const TensorView* b : {w.k_bias, w.v_bias})
      if (b && b->dtype != w.q_bias->dtype)
        throw EngineError("unsupported", "q/k/v biases mix dtypes (" + w.q_bias->name + " is " + w.q_bias->dtype_label +
                                             ", " + b->name + " is " + b->dtype_label + ")");
  }
  return first->dtype;
}

}  // namespace tidepool
