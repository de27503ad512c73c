import type { TidepoolOptions } from '../scheduler/policies/tidepool.js';
import type { PolicyName, SchedulerEvent } from '../scheduler/types.js';
import type { LatencySummary } from './metrics.js';
import type { SimRouting } from './router.js';
import type { SimGpuSpec } from './sim-types.js';
import type { Workload } from './workloads.js';

/** What a simulated cluster run takes and gives (cluster.ts, disaggregated-cluster.ts). */
export interface ClusterOptions {
  readonly workload: Workload;
  readonly policy: PolicyName;
  readonly gpus: number;
  /** Default H100. */
  readonly gpu?: SimGpuSpec;
  /** Virtual time after the last arrival for work in flight to finish, ms. Default 60 s (`DEFAULT_DRAIN_MS`). */
  readonly drainMs?: number;
  readonly onEvent?: (gpu: number, e: SchedulerEvent) => void;
  /** How pooled policies route (router.ts); default `planned`. */
  readonly routing?: SimRouting;
  /** Options of the `tidepool` policy, beyond its defaults (e.g. a TTFT target). */
  readonly tidepool?: Partial<TidepoolOptions>;
}

/** What a capacity search may vary besides the workload, policy and GPU count. */
export type ClusterSettings = Pick<ClusterOptions, 'routing' | 'tidepool' | 'drainMs'>;

export interface ClusterResult extends LatencySummary {
  readonly policy: PolicyName;
  readonly gpus: number;
  readonly functions: number;
  /** Functions a static placement could not fit anywhere (their requests score 0). */
  readonly unplaced: number;
  /** Sum of engine step time over all GPUs, ms. */
  readonly busyMs: number;
  readonly loads: number;
  readonly switches: number;
  /** Switches that took longer than their estimate plus the scheduler's `switchSlackMs` (event `overrun`). */
  readonly switchOverruns: number;
  /** Wall-clock ms this simulation took. */
  readonly wallMs: number;
  /** `aegaeon` only: how the GPUs were split into prefill and decode instances. */
  readonly instances?: { readonly prefill: number; readonly decode: number };
}

/** Virtual time after the last arrival for work in flight to finish, ms, unless the options say otherwise. */
export const DEFAULT_DRAIN_MS = 60_000;

/** Loads (not cached), switches and switch overruns, counted from scheduler events. */
export class EventCounts {
  private loads = 0;
  private switches = 0;
  private switchOverruns = 0;

  count(e: SchedulerEvent): void {
    if (e.type === 'load' && !e.cached) this.loads++;
    if (e.type === 'switch') {
      this.switches++;
      if (e.overrun) this.switchOverruns++;
    }
  }

  totals(): { loads: number; switches: number; switchOverruns: number } {
    return { loads: this.loads, switches: this.switches, switchOverruns: this.switchOverruns };
  }
}
