/**
 * What the simulator needs to know about models and GPUs. Costs are in milliseconds, sizes in bytes.
 */
export interface StepCostModel {
  /** One prefill step over `sequences` prompts totalling `tokens` tokens, ms. */
  prefillMs(shape: string, tokens: number, sequences: number): number;
  /** One decode step of `batch` sequences whose mean context is `meanContext` tokens, ms. */
  decodeMs(shape: string, batch: number, meanContext: number): number;
}

/** A model shape as the simulated engine prices it. */
export interface SimModelShape {
  /** Key into the step cost model, e.g. `qwen2_5_7b`. */
  readonly shape: string;
  readonly weightBytes: number;
  /** KV cache bytes per token (all layers, K and V, fp16). */
  readonly kvBytesPerToken: number;
}

export interface SimGpuSpec {
  /** Calibration name, e.g. `H100`. */
  readonly name: string;
  /** Device memory the engine may use, bytes (weights arena + KV pool + scratch). */
  readonly memoryBytes: number;
  /** Host-to-device (and back) copy bandwidth, bytes per ms. */
  readonly h2dBytesPerMs: number;
  /** Fixed cost per weight load beyond the copy, ms. */
  readonly loadOverheadMs: number;
  /** Device memory bandwidth, bytes per ms (floors the decode cost of reading KV). */
  readonly memBytesPerMs: number;
}

/** 1 GB/s = 1e6 bytes per ms. */
export const GBPS = 1e6;

export const GPUS: Readonly<Record<string, SimGpuSpec>> = Object.freeze({
  // PCIe Gen5 x16 pinned copies reach ~50 GB/s in practice; 80 GB less ~8% for context and scratch.
  H100: { name: 'H100', memoryBytes: 74e9, h2dBytesPerMs: 50 * GBPS, loadOverheadMs: 20, memBytesPerMs: 3350 * GBPS },
  H800: { name: 'H800', memoryBytes: 74e9, h2dBytesPerMs: 50 * GBPS, loadOverheadMs: 20, memBytesPerMs: 3350 * GBPS },
  // H20: 96 GB, PCIe Gen5.
  H20: { name: 'H20', memoryBytes: 88e9, h2dBytesPerMs: 50 * GBPS, loadOverheadMs: 20, memBytesPerMs: 4000 * GBPS },
  // A100 80 GB: PCIe Gen4, ~25 GB/s.
  A100: { name: 'A100', memoryBytes: 74e9, h2dBytesPerMs: 25 * GBPS, loadOverheadMs: 20, memBytesPerMs: 2000 * GBPS },
  // A10: 24 GB, PCIe Gen4.
  A10: { name: 'A10', memoryBytes: 22e9, h2dBytesPerMs: 25 * GBPS, loadOverheadMs: 20, memBytesPerMs: 600 * GBPS },
});
