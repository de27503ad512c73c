import type { Gauge } from 'prom-client';
import { NodeError, type NodeGenerateRequest, choiceCount } from '../../protocol/node-runtime.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/** A request's place in its function's queue: `started` at its first event, `finished` when it ends. */
export interface QueueTicket {
  started(): void;
  /** Idempotent; also valid without `started` (refused, cancelled or failed before any token). */
  finished(): void;
}

export interface KnownModel {
  readonly functionName: string;
  readonly weightsDigest: WeightsDigest;
  readonly bytes: number;
  readonly queued: number;
  readonly running: number;
}

interface Counts {
  functionName: string;
  weightsDigest: WeightsDigest;
  bytes: number;
  queued: number;
  running: number;
}

/**
 * Per-function admission: a request is queued from admission until its first token (cold start and
 * scheduler wait included), then running until it ends. Only queued requests count against the limit, so
 * a busy function with long generations still admits new work while its queue has room. A request with n
 * choices (a group) counts as n everywhere: it takes n places in the queue, then n running.
 */
export class FunctionQueues {
  private readonly byModel = new Map<string, Counts>();

  constructor(private readonly depthGauge: Gauge<'function'>) {}

  /** Throws `NodeError('queue_full')` with a retry hint when the function's queue is at `limit`. */
  admit(request: NodeGenerateRequest, limit: number, retryAfterMs: number): QueueTicket {
    const places = choiceCount(request);
    const queued = this.queuedFor(request.functionName);
    if (queued + places > limit) {
      const message =
        places === 1
          ? `function ${request.functionName} already has ${limit} requests waiting on this node`
          : `function ${request.functionName} has ${queued} of its ${limit} queue places taken on this node; a request with ${places} choices needs ${places}`;
      throw new NodeError('queue_full', message, retryAfterMs);
    }
    const key = `${request.functionName}\0${request.artifact.weightsDigest}`;
    let counts = this.byModel.get(key);
    if (!counts) {
      counts = { functionName: request.functionName, weightsDigest: request.artifact.weightsDigest, bytes: request.artifact.bytes, queued: 0, running: 0 };
      this.byModel.set(key, counts);
    }
    const entry = counts;
    entry.queued += places;
    this.publish(request.functionName);
    let state: 'queued' | 'running' | 'done' = 'queued';
    return {
      started: () => {
        if (state !== 'queued') return;
        state = 'running';
        entry.queued -= places;
        entry.running += places;
        this.publish(entry.functionName);
      },
      finished: () => {
        if (state === 'done') return;
        if (state === 'queued') entry.queued -= places;
        else entry.running -= places;
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
