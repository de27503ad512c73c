import { TidepoolError } from './errors.js';
import type { ModelResidency, WarmHoldReport } from './node-runtime.js';
import type { NodeFunctionLoad, NodeStats } from './node-stats.js';
import type { NodeTimeline } from './timeline-types.js';
import { parseWeightsDigest } from './weights-digest.js';

/**
 * Checks for what a node reports as JSON (`GET /internal/residency`, `/internal/stats`, `/internal/timeline`,
 * and the residency and holds in a heartbeat), so the control plane reads them as the types they claim to be.
 * Each fails with `invalid_parameter` naming the first bad field.
 *
 * On the wire (and in the `nodes.residency` column, which `GET /v1/cluster/nodes` shows as is) the weights
 * digest keeps its published name `artifactDigest`; the readers here and the `...ToWire` writers are the one
 * place it is converted.
 */

/** A `ModelResidency` as JSON. */
export type WireModelResidency = Omit<ModelResidency, 'weightsDigest'> & { readonly artifactDigest: string };
/** A `WarmHoldReport` as JSON. */
export type WireWarmHoldReport = Omit<WarmHoldReport, 'weightsDigest'> & { readonly artifactDigest: string };
/** A `NodeStats` as JSON. */
export type WireNodeStats = Omit<NodeStats, 'functions'> & {
  readonly functions: readonly (Omit<NodeFunctionLoad, 'weightsDigest'> & { readonly artifactDigest: string })[];
};

export function residencyToWire(list: readonly ModelResidency[]): WireModelResidency[] {
  return list.map(({ weightsDigest, ...rest }) => ({ artifactDigest: weightsDigest, ...rest }));
}

export function warmHoldReportsToWire(list: readonly WarmHoldReport[]): WireWarmHoldReport[] {
  return list.map(({ weightsDigest, ...rest }) => ({ artifactDigest: weightsDigest, ...rest }));
}

export function nodeStatsToWire(stats: NodeStats): WireNodeStats {
  return { ...stats, functions: stats.functions.map(({ weightsDigest, ...rest }) => ({ artifactDigest: weightsDigest, ...rest })) };
}

type Json = Readonly<Record<string, unknown>>;

function fail(field: string, rule: string): never {
  throw new TidepoolError('invalid_parameter', `${field}: ${rule}`, { param: field });
}

function record(value: unknown, field: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail(field, 'must be an object');
  return value as Json;
}

function list(value: unknown, field: string): readonly unknown[] {
  if (!Array.isArray(value)) fail(field, 'must be an array');
  return value;
}

function fields(value: Json, field: string, kinds: Readonly<Record<string, 'string' | 'number' | 'boolean'>>): void {
  for (const [key, kind] of Object.entries(kinds)) {
    if (typeof value[key] !== kind || (kind === 'number' && !Number.isFinite(value[key]))) fail(`${field}.${key}`, `must be a ${kind}`);
  }
}

const TIERS: ReadonlySet<unknown> = new Set(['gpu', 'host', 'store']);

export function parseResidencyList(value: unknown, field = 'residency'): readonly ModelResidency[] {
  return list(value, field).map((item, i) => {
    const m = record(item, `${field}[${i}]`);
    fields(m, `${field}[${i}]`, { artifactDigest: 'string', functionName: 'string', bytes: 'number', queued: 'number', running: 'number' });
    if (!TIERS.has(m.tier)) fail(`${field}[${i}].tier`, 'must be gpu, host or store');
    return {
      weightsDigest: parseWeightsDigest(m.artifactDigest, `${field}[${i}].artifactDigest`),
      functionName: m.functionName as string,
      tier: m.tier as ModelResidency['tier'],
      bytes: m.bytes as number,
      queued: m.queued as number,
      running: m.running as number,
    };
  });
}

export function parseWarmHoldReports(value: unknown, field = 'warmHolds'): readonly WarmHoldReport[] {
  return list(value, field).map((item, i) => {
    const h = record(item, `${field}[${i}]`);
    fields(h, `${field}[${i}]`, { functionName: 'string', artifactDigest: 'string' });
    return { functionName: h.functionName as string, weightsDigest: parseWeightsDigest(h.artifactDigest, `${field}[${i}].artifactDigest`) };
  });
}

export function parseNodeStats(value: unknown): NodeStats {
  const s = record(value, 'stats');
  const functions = list(s.functions, 'stats.functions').map((item, i): NodeFunctionLoad => {
    const f = record(item, `stats.functions[${i}]`);
    fields(f, `stats.functions[${i}]`, { functionName: 'string', artifactDigest: 'string', queued: 'number', running: 'number' });
    return {
      functionName: f.functionName as string,
      weightsDigest: parseWeightsDigest(f.artifactDigest, `stats.functions[${i}].artifactDigest`),
      queued: f.queued as number,
      running: f.running as number,
    };
  });
  list(s.gpus, 'stats.gpus').forEach((item, i) => {
    const g = record(item, `stats.gpus[${i}]`);
    fields(g, `stats.gpus[${i}]`, {
      index: 'number',
      name: 'string',
      memoryBytes: 'number',
      weightsBytes: 'number',
      kvBytes: 'number',
      kvUsedBytes: 'number',
      scratchBytes: 'number',
      freeBytes: 'number',
      up: 'boolean',
    });
    list(g.resident, `stats.gpus[${i}].resident`);
  });
  fields(record(s.hostPool, 'stats.hostPool'), 'stats.hostPool', { capacityBytes: 'number', usedBytes: 'number' });
  return { ...(s as unknown as NodeStats), functions };
}

const SPAN_KINDS: ReadonlySet<unknown> = new Set(['run', 'switch', 'prefetch', 'load', 'park', 'restore', 'evict', 'error']);

export function parseNodeTimeline(value: unknown): NodeTimeline {
  const t = record(value, 'timeline');
  fields(t, 'timeline', { nodeId: 'string', nowMs: 'number', windowMs: 'number' });
  list(t.gpus, 'timeline.gpus').forEach((item, i) => {
    fields(record(item, `timeline.gpus[${i}]`), `timeline.gpus[${i}]`, { index: 'number', label: 'string' });
  });
  list(t.spans, 'timeline.spans').forEach((item, i) => {
    const span = record(item, `timeline.spans[${i}]`);
    fields(span, `timeline.spans[${i}]`, { seq: 'number', gpu: 'number', function: 'string', startMs: 'number', endMs: 'number' });
    if (!SPAN_KINDS.has(span.kind)) fail(`timeline.spans[${i}].kind`, 'must be a timeline span kind');
  });
  return t as unknown as NodeTimeline;
}
