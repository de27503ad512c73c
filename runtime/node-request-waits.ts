/**
 * The two waits of a request before its first token, both bounded by the request's deadline (admission
 * plus `queueTimeoutMs`): the host lease (the model in shared memory) and the first event from a device.
 * Each turns what went wrong into the `NodeError` the control plane handles. Apart from the node so its
 * request path reads as steps, and the deadline arithmetic lives in one place.
 */
import { ChoiceProgress } from '../protocol/choice-progress.js';
import { NodeError, type NodeEvent, type NodeGenerateRequest } from '../protocol/node-runtime.js';
import type { LiveSequence } from './engine-down-resubmit.js';
import type { HostLease, HostPool } from './pool/host-pool-contract.js';
import { HostPoolError } from './pool/host-pool-error.js';

/** Waits for the model in shared memory; undefined when the caller aborted first. */
export async function acquireHost(
  hostPool: HostPool,
  request: NodeGenerateRequest,
  signal: AbortSignal | undefined,
  deadline: number,
  queueTimeoutMs: number,
): Promise<HostLease | undefined> {
  const timeout = AbortSignal.timeout(msUntil(deadline));
  const use = { functionName: request.functionName, keepWarmMs: request.keepWarmMs, signal: signal ? AbortSignal.any([signal, timeout]) : timeout };
  try {
    return await hostPool.acquire(request.artifact, use);
  } catch (error) {
    if (!(error instanceof HostPoolError)) throw error;
    if (error.code === 'cancelled' && signal?.aborted) return undefined;
    if (error.code === 'cancelled') {
      throw new NodeError(
        'cold_start_timeout',
        `model ${request.artifact.weightsDigest} (${request.artifact.bytes} bytes) was not in host memory within ${queueTimeoutMs} ms`,
      );
    }
    if (error.code === 'store_unavailable') throw new NodeError('store_unavailable', error.message);
    if (error.code === 'digest_mismatch') throw new NodeError('blob_corrupt', error.message);
    throw new NodeError('bad_model', error.message);
  }
}

/** The first token or end, or `cold_start_timeout` (and a cancel) if neither comes before the deadline. */
export async function firstEvent(live: LiveSequence, deadline: number, request: NodeGenerateRequest, queueTimeoutMs: number): Promise<NodeEvent> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), msUntil(deadline))));
  const event = await Promise.race([live.channel.next(), timedOut]);
  clearTimeout(timer);
  if (event) return refuseEarlyFailure(event);
  for (const id of live.ids) live.scheduler.cancel(id);
  throw new NodeError('cold_start_timeout', `no first token for ${request.functionName} within ${queueTimeoutMs} ms (model loading or GPU busy)`);
}

/**
 * An end before any token, for a reason the caller should handle as a refusal rather than an empty answer:
 * the model cannot be loaded, the prompt does not fit, or the engine went away (another node may serve it).
 * A device fault (`device_lost`) takes the engine down with it, so it counts as `engine_down`.
 */
function refuseEarlyFailure(event: NodeEvent): NodeEvent {
  if (event.type !== 'done' || event.reason !== 'error' || event.completionTokens > 0 || !event.error) return event;
  const { code, message } = event.error;
  if (code === 'device_lost') throw new NodeError('engine_down', message);
  if (code === 'bad_model' || code === 'context_overflow' || code === 'engine_down') throw new NodeError(code, message);
  return event;
}

/** Whole milliseconds left before `deadline` (timers want integers), at least 1. */
export function msUntil(deadline: number): number {
  return Math.max(1, Math.ceil(deadline - performance.now()));
}

/** Every choice's end, for a request the caller gave up before it reached a device. */
export function cancelledBefore(request: NodeGenerateRequest): NodeEvent[] {
  return new ChoiceProgress(request).endOpen('cancelled');
}
