import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

export type BackendChoice = 'auto' | 'cpu' | 'cuda';

export interface DetectBackendOptions {
  readonly engineBin: string;
  readonly requested: BackendChoice;
  /** Runs a program and returns its stdout; rejects when it cannot run or exits non-zero. */
  readonly run?: (file: string, args: readonly string[]) => Promise<string>;
  readonly pathExists?: (path: string) => boolean;
}

export interface DetectedBackend {
  readonly backend: 'cpu' | 'cuda';
  /** Why this backend, in words an operator can act on. */
  readonly reason: string;
}

const runProgram = async (file: string, args: readonly string[]): Promise<string> => (await execFileAsync(file, [...args], { timeout: 10_000 })).stdout;

/**
 * Resolves `auto` to `cuda` when the binary was built with the CUDA backend (its `info` lists it) and this
 * machine has an NVIDIA GPU, else `cpu`. An explicit `cpu` or `cuda` is returned unchanged: asking for
 * `cuda` where it cannot run is an engine start error with its own message, not a silent fallback.
 */
export async function detectBackend(options: DetectBackendOptions): Promise<DetectedBackend> {
  if (options.requested !== 'auto') return { backend: options.requested, reason: 'requested explicitly' };
  const run = options.run ?? runProgram;
  const pathExists = options.pathExists ?? existsSync;
  let backends: readonly string[];
  try {
    const info = JSON.parse(await run(options.engineBin, ['info'])) as { backends?: unknown };
    backends = Array.isArray(info.backends) ? info.backends.map(String) : [];
  } catch (error) {
    return { backend: 'cpu', reason: `engine info failed (${(error as Error).message}); using cpu` };
  }
  if (!backends.includes('cuda')) return { backend: 'cpu', reason: 'engine was built without the cuda backend' };
  if (await hasNvidiaGpu(run, pathExists)) return { backend: 'cuda', reason: 'cuda backend built and a GPU is present' };
  return { backend: 'cpu', reason: 'cuda backend built but no GPU found (no /dev/nvidia0, nvidia-smi lists none)' };
}

async function hasNvidiaGpu(run: (file: string, args: readonly string[]) => Promise<string>, pathExists: (path: string) => boolean): Promise<boolean> {
  if (pathExists('/dev/nvidia0')) return true;
  try {
    return /^GPU \d+:/m.test(await run('nvidia-smi', ['-L']));
  } catch {
    return false;
  }
}
