import { describe, expect, it } from 'vitest';
import { detectBackend } from '../../../runtime/engine/detect-backend.js';

function runner(outputs: Record<string, string | Error>) {
  return async (file: string, args: readonly string[]) => {
    const out = outputs[[file, ...args].join(' ')];
    if (out === undefined || out instanceof Error) throw out ?? new Error(`${file}: not found`);
    return out;
  };
}

describe('detect backend', () => {
  const cudaInfo = { 'engine info': JSON.stringify({ backends: ['cpu', 'cuda'], version: '1' }) };

  it('keeps an explicit choice without probing', async () => {
    expect((await detectBackend({ engineBin: 'engine', requested: 'cuda', run: runner({}) })).backend).toBe('cuda');
  });

  it('picks cuda when the binary has it and /dev/nvidia0 exists', async () => {
    const detected = await detectBackend({ engineBin: 'engine', requested: 'auto', run: runner(cudaInfo), pathExists: () => true });
    expect(detected.backend).toBe('cuda');
  });

  it('picks cuda when nvidia-smi lists a GPU', async () => {
    const run = runner({ ...cudaInfo, 'nvidia-smi -L': 'GPU 0: NVIDIA H100 (UUID: GPU-x)\n' });
    expect((await detectBackend({ engineBin: 'engine', requested: 'auto', run, pathExists: () => false })).backend).toBe('cuda');
  });

  it('falls back to cpu when no GPU is present', async () => {
    const detected = await detectBackend({ engineBin: 'engine', requested: 'auto', run: runner(cudaInfo), pathExists: () => false });
    expect(detected).toMatchObject({ backend: 'cpu', reason: expect.stringMatching(/no GPU/) });
  });

  it('falls back to cpu when the binary lacks cuda or info fails', async () => {
    const cpuOnly = runner({ 'engine info': JSON.stringify({ backends: ['cpu'] }) });
    expect((await detectBackend({ engineBin: 'engine', requested: 'auto', run: cpuOnly, pathExists: () => true })).backend).toBe('cpu');
    const broken = await detectBackend({ engineBin: 'engine', requested: 'auto', run: runner({}), pathExists: () => true });
    expect(broken).toMatchObject({ backend: 'cpu', reason: expect.stringMatching(/info failed/) });
  });
});
