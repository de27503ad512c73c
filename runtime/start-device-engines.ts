import { detectBackend } from './engine/detect-backend.js';
import { startEngineSupervisor, type EngineSupervisor } from './engine/engine-supervisor.js';
import { listDevices, type DeviceInfo } from './engine/list-devices.js';
import type { Logger } from '../protocol/logger.js';

export interface DeviceEnginesOptions {
  readonly engineBin: string;
  readonly backend: 'auto' | 'cpu' | 'cuda';
  readonly gpus?: readonly number[] | 'all';
  readonly cpuEngines?: number;
  readonly engineMemoryBytes?: number;
  readonly kvBytes?: number;
  readonly engineThreads?: number;
  readonly log?: Logger;
}

/**
 * Resolves the backend, lists the devices and starts one supervised engine per device (`--device <ordinal>`).
 * A failed start stops the engines already started and rethrows: that is a setup problem, not a restart.
 */
export async function startDeviceEngines(o: DeviceEnginesOptions): Promise<{ devices: readonly DeviceInfo[]; supervisors: EngineSupervisor[] }> {
  const detected = await detectBackend({ engineBin: o.engineBin, requested: o.backend });
  o.log?.info(`engine backend ${detected.backend}: ${detected.reason}`);
  const devices = await listDevices({ backend: detected.backend, gpus: o.gpus ?? 'all', cpuEngines: o.cpuEngines ?? 1 });
  const supervisors: EngineSupervisor[] = [];
  try {
    // One after another: engines of one host sizing their reservations at the same moment would race.
    for (const device of devices) {
      supervisors.push(
        await startEngineSupervisor({
          engineBin: o.engineBin,
          backend: detected.backend,
          device: device.ordinal,
          memoryBudgetBytes: o.engineMemoryBytes,
          kvBudgetBytes: o.kvBytes,
          threads: o.engineThreads,
          log: o.log?.child({ device: device.label }),
        }),
      );
    }
  } catch (error) {
    await Promise.all(supervisors.map((s) => s.close()));
    throw error;
  }
  return { devices, supervisors };
}
