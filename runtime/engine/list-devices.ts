import { execFile } from 'node:child_process';
import { cpus } from 'node:os';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** One device a node can drive with an engine of its own. */
export interface DeviceInfo {
  /** `--device` for the CUDA engine (an ordinal among the devices CUDA sees); 0 for CPU engines. */
  readonly ordinal: number;
  /** `cuda:1`, `cpu engine 0`: what operators see in stats, the timeline and cluster status. */
  readonly label: string;
  /** Device name as the driver reports it, or the CPU model. */
  readonly name: string;
  /** Device memory; the host's for CPU engines is not theirs alone, so 0. */
  readonly memoryBytes: number;
}

export interface ListDevicesOptions {
  readonly backend: 'cpu' | 'cuda';
  /** CUDA ordinals to drive, or every device the machine shows. */
  readonly gpus: readonly number[] | 'all';
  /** Engines to run on the CPU backend. */
  readonly cpuEngines: number;
  /** Runs a program and returns its stdout; rejects when it cannot run or exits non-zero. */
  readonly run?: (file: string, args: readonly string[]) => Promise<string>;
  /** CUDA_VISIBLE_DEVICES; `process.env` by default. */
  readonly visibleDevices?: string;
}

const runProgram = async (file: string, args: readonly string[]): Promise<string> => (await execFileAsync(file, [...args], { timeout: 10_000 })).stdout;

/**
 * The devices a node runs engines on. CUDA: every GPU `nvidia-smi` lists (name and memory), renumbered as
 * CUDA numbers them when CUDA_VISIBLE_DEVICES narrows the set, then filtered by `gpus`; an ordinal the
 * machine does not have is an error naming the ones it has. CPU: `cpuEngines` engines on the host CPU.
 */
export async function listDevices(options: ListDevicesOptions): Promise<readonly DeviceInfo[]> {
  if (options.backend === 'cpu') {
    const name = cpus()[0]?.model.trim() ?? 'cpu';
    return Array.from({ length: options.cpuEngines }, (_, i) => ({ ordinal: 0, label: `cpu engine ${i}`, name, memoryBytes: 0 }));
  }
  const found = await cudaDevices(options.run ?? runProgram, options.visibleDevices ?? process.env.CUDA_VISIBLE_DEVICES);
  if (options.gpus === 'all') return found.length > 0 ? found : [{ ordinal: 0, label: 'cuda:0', name: '', memoryBytes: 0 }];
  const missing = options.gpus.filter((ordinal) => !found.some((d) => d.ordinal === ordinal));
  if (missing.length > 0 && found.length > 0) {
    throw new Error(`TIDEPOOL_GPUS names device ${missing.join(', ')}, but this machine has ${found.map((d) => d.ordinal).join(', ')}`);
  }
  return options.gpus.map((ordinal) => found.find((d) => d.ordinal === ordinal) ?? { ordinal, label: `cuda:${ordinal}`, name: '', memoryBytes: 0 });
}

/** GPUs from nvidia-smi in CUDA's numbering; empty when nvidia-smi is missing (the engine then finds out). */
async function cudaDevices(run: NonNullable<ListDevicesOptions['run']>, visible: string | undefined): Promise<DeviceInfo[]> {
  let csv: string;
  try {
    csv = await run('nvidia-smi', ['--query-gpu=index,name,memory.total', '--format=csv,noheader,nounits']);
  } catch {
    return [];
  }
  const physical = csv
    .split('\n')
    .map((line) => line.split(',').map((f) => f.trim()))
    .filter((f) => f.length === 3 && /^\d+$/.test(f[0]!))
    .map(([index, name, mib]) => ({ index: Number(index), name: name!, memoryBytes: Math.round(Number(mib) * 2 ** 20) || 0 }));
  // CUDA numbers the visible devices 0..n-1 in the order CUDA_VISIBLE_DEVICES lists them.
  const order = visible === undefined || visible.trim() === '' ? physical.map((d) => String(d.index)) : visible.split(',').map((v) => v.trim());
  const out: DeviceInfo[] = [];
  for (const [ordinal, entry] of order.entries()) {
    const device = physical.find((d) => String(d.index) === entry);
    if (/^\d+$/.test(entry) && !device) continue; // names a GPU this machine does not have
    out.push({ ordinal, label: `cuda:${ordinal}`, name: device?.name ?? entry, memoryBytes: device?.memoryBytes ?? 0 });
  }
  return out;
}
