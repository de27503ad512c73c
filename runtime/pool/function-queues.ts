import type { Gauge } from 'prom-client';
import { NodeError, type NodeGenerateRequest } from '../../protocol/node-runtime.js';

/** A request's place in its function's queue: `started` at its first event, `finished` when it ends. */
export interface QueueTicket {
  started(): void;
  /** Idempotent; also valid without `started` (refused, cancelled or failed before any token). */
  finished(): void;
}

export interface KnownModel {
  readonly functionName: string;
  readonly weightsDigest: string;
  readonly bytes: number;
  readonly queued: number;
  readonly running: number;
}

interface Counts {
  functionName: string;
  weightsDigest: string;
  bytes: number;
  queued: number;
  running: number;
}

/**
 * Per-function admission: a request is queued from admission until its first token (cold start and
 * scheduler wait included), then running until it ends. Only queued requests count against the limit, so
 * a busy function with long generations still admits new work while its queue has room.
 */
export class FunctionQueues {
  private readonly byModel = new Map<string, Counts>();

  constructor(private readonly depthGauge: Gauge<'function'>) {}

  /** Throws `NodeError('queue_full')` with a retry hint when the function's queue is at `limit`. */
  admit(request: NodeGenerateRequest, limit: number, retryAfterMs: number): QueueTicket {
    if (this.queuedFor(request.functionName) >= limit) {
      throw new NodeError('queue_full', `function ${request.functionName} already has ${limit} requests waiting on this node`, retryAfterMs);
    }
    const key = `${request.functionName}\0${request.artifact.weightsDigest}`;
    let counts = this.byModel.get(key);
    if (!counts) {
      counts = { functionName: request.functionName, weightsDigest: request.artifact.weightsDigest, bytes: request.artifact.bytes, queued: 0, running: 0 };
      this.byModel.set(key, counts);
    }
    const entry = counts;
    entry.queued++;
    this.publish(request.functionName);
    let state: 'queued' | 'running' | 'done' = 'queued';
    return {
      started: () => {
        if (state !== 'queued') return;
        state = 'running';
        entry.queued--;
        entry.running++;
        this.publish(entry.functionName);
      },
      finished: () => {
        if (state === 'done') return;
        if (state === 'queued') entry.queued--;
        else entry.running--;
        state = 'done';
        this.publish(entry.functionName);
      },
    };
  }

  /** Every (function, model) pair this node has served, with live counts. */
  known(): readonly KnownModel[] {
    return [...this.byModel.values()].map((counts) => ({ ...counts }));
  }

  private queuedFor(functionName: string): number {
    let queued = 0;
    for (const counts of this.byModel.values()) if (counts.functionName === functionName) queued += counts.queued;
    return queued;
  }

  private publish(functionName: string): void {
    this.depthGauge.set({ function: functionName }, this.queuedFor(functionName));
  }
}
