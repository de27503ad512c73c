import { simulatedWeightsDigest, type WeightsDigest } from '../../protocol/weights-digest.js';
import { readFileSync } from 'node:fs';
import { SHAPES } from './catalogue.js';
import type { SimFunction, SimRequest, Workload } from './workloads.js';
import { defaultSlo } from './workloads.js';

/**
 * A user's own trace for `tidepool plan`: JSON lines, one request each,
 * `{"at_s": 1.25, "function": "chat", "shape": "qwen2_5_7b", "prompt_tokens": 512, "output_tokens": 128}`.
 * `shape` is a simulator shape (see SHAPES); a function keeps the shape of its first line. The horizon is
 * the last arrival rounded up to a second unless `durationS` is given.
 */
export function workloadFromTrace(path: string, durationS?: number): Workload {
  const requests: SimRequest[] = [];
  const shapes = new Map<string, string>();
  const counts = new Map<WeightsDigest, number>();
  const lines = readFileSync(path, 'utf8').split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    const where = `${path}:${i + 1}`;
    let row: Record<string, unknown>;
    try {
      row = JSON.parse(line) as Record<string, unknown>;
    } catch {
      throw new Error(`${where}: not JSON`);
    }
    const { at_s: at, function: name, shape, prompt_tokens: prompt, output_tokens: output } = row;
    if (typeof at !== 'number' || at < 0) throw new Error(`${where}: at_s must be a non-negative number`);
    if (typeof name !== 'string' || name === '') throw new Error(`${where}: function must be a string`);
    if (typeof shape !== 'string' || !SHAPES[shape]) throw new Error(`${where}: shape must be one of ${Object.keys(SHAPES).join(', ')}`);
    if (!Number.isInteger(prompt) || (prompt as number) < 1) throw new Error(`${where}: prompt_tokens must be a positive integer`);
    if (!Number.isInteger(output) || (output as number) < 1) throw new Error(`${where}: output_tokens must be a positive integer`);
    const key = simulatedWeightsDigest(shapes.get(name) ?? shape, name);
    shapes.set(name, shapes.get(name) ?? shape);
    counts.set(key, (counts.get(key) ?? 0) + 1);
    requests.push({ atMs: at * 1000, weightsDigest: key, prompt: prompt as number, output: output as number });
  });
  if (requests.length === 0) throw new Error(`${path}: no requests`);
  requests.sort((a, b) => a.atMs - b.atMs || (a.weightsDigest < b.weightsDigest ? -1 : 1));
  const horizonS = durationS ?? Math.ceil(requests[requests.length - 1]!.atMs / 1000 + 1e-9);
  const functions: SimFunction[] = [...counts.entries()].map(([weightsDigest, n]) => {
    const shape = weightsDigest.split('/')[0]!;
    return { weightsDigest, shape, bytes: SHAPES[shape]!.weightBytes, rate: n / horizonS };
  });
  return { name: 'trace', functions, requests, durationMs: horizonS * 1000, slo: defaultSlo(), config: { trace: path } };
}
