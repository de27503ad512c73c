import type { OpsFunction, OpsGpu, OpsNode, OpsState, OpsTier } from '../platform/ops/ops-types.js';
import { formatMs, paint, styledTable, type Cell, type Color } from './ansi.js';
import { formatBytes } from './output.js';

export interface TopViewOptions {
  /** ANSI colors (a terminal that did not set NO_COLOR). */
  readonly color: boolean;
  /** The control plane's URL, shown in the title. */
  readonly source?: string;
  /** Characters in a memory bar. Default 32. */
  readonly barWidth?: number;
}

/** Attainment at or above this is healthy (green); below `ATTAINMENT_WARN` it is failing (red). */
export const ATTAINMENT_GOOD = 0.99;
export const ATTAINMENT_WARN = 0.9;

/** Memory bar glyphs: they tell the parts apart without color too. */
export const BAR_GLYPHS = { weights: '#', kv: '=', scratch: '-', free: '.' } as const;

const TIER_COLORS: Readonly<Record<OpsTier, Color>> = { gpu: 'green', host: 'yellow', store: 'dim' };
const STATUS_COLORS: Readonly<Record<OpsNode['status'], Color>> = { ready: 'green', draining: 'yellow', down: 'red', unreachable: 'red' };

/** One frame of `tidepool top` (pure: same state, same lines). */
export function renderTop(state: OpsState, options: TopViewOptions): string[] {
  const { color } = options;
  const at = new Date(state.generatedAt).toLocaleTimeString('en-GB', { hour12: false });
  const title = `tidepool top${options.source ? `  ${options.source}` : ''}  ${at}  ${plural(state.nodes.length, 'node')}, ${plural(state.functions.length, 'function')}`;
  return [
    paint(title, 'bold', color),
    '',
    ...functionLines(state.functions, color),
    '',
    ...state.nodes.flatMap((node) => nodeLines(node, options)),
    legend(color),
  ];
}

function functionLines(functions: readonly OpsFunction[], color: boolean): string[] {
  if (functions.length === 0) return ['no functions deployed (tidepool deploy functions/<name>)'];
  const header: Cell[] = ['FUNCTION', 'VER', 'TIER', 'QUEUE', 'RUN', 'SLO 5m', 'REQ 5m', 'TTFT p50 / SLO', 'TPOT p50 / SLO'].map((text) => ({
    text,
    color: 'bold' as const,
  }));
  const rows = functions.map((fn): Cell[] => [
    { text: fn.name },
    { text: fn.version === null ? '-' : `v${fn.version}` },
    { text: fn.tier, color: TIER_COLORS[fn.tier] },
    { text: String(fn.queueDepth), ...(fn.queueDepth > 0 && { color: 'yellow' as const }) },
    { text: String(fn.running) },
    attainmentCell(fn.attainment),
    { text: String(fn.invocations5m) },
    latencyCell(fn.ttftP50Ms, fn.slo.ttft_ms),
    latencyCell(fn.tpotP50Ms, fn.slo.tpot_ms),
  ]);
  return styledTable([header, ...rows], color);
}

function attainmentCell(attainment: number | null): Cell {
  if (attainment === null) return { text: '-', color: 'dim' };
  const text = `${(attainment * 100).toFixed(1)}%`;
  return { text, color: attainment >= ATTAINMENT_GOOD ? 'green' : attainment >= ATTAINMENT_WARN ? 'yellow' : 'red' };
}

/** `p50 / SLO`, red with a `!` when the median is over the SLO. */
function latencyCell(p50: number | null, slo: number): Cell {
  const over = p50 !== null && p50 > slo;
  return { text: `${formatMs(p50)} / ${formatMs(slo)}${over ? ' !' : ''}`, ...(over && { color: 'red' as const }) };
}

function nodeLines(node: OpsNode, options: TopViewOptions): string[] {
  const { color } = options;
  const width = options.barWidth ?? 32;
  const pool = node.hostPool;
  const poolBar = bar(
    [
      [pool.usedBytes, BAR_GLYPHS.weights, 'cyan'],
      [Math.max(0, pool.capacityBytes - pool.usedBytes), BAR_GLYPHS.free, 'dim'],
    ],
    width,
    color,
  );
  const head = [
    paint(`node ${node.id}`, 'bold', color),
    paint(node.status, STATUS_COLORS[node.status], color),
    ...(node.url ? [node.url] : []),
    `host pool ${poolBar} ${formatBytes(pool.usedBytes)} / ${formatBytes(pool.capacityBytes)}`,
  ].join('  ');
  const gpus = node.gpus.length > 0 ? node.gpus.map((gpu) => gpuLine(gpu, width, color)) : [paint(`  no engine figures (${node.status})`, 'dim', color)];
  return [head, ...gpus, ''];
}

function gpuLine(gpu: OpsGpu, width: number, color: boolean): string {
  const name = `  gpu ${gpu.index}${gpu.name ? ` ${gpu.name}` : ''}`;
  if (!gpu.up) return `${name}  ${paint('engine restarting', 'red', color)}`;
  const memory = bar(
    [
      [gpu.weightsBytes, BAR_GLYPHS.weights, 'blue'],
      [gpu.kvBytes, BAR_GLYPHS.kv, 'magenta'],
      [gpu.scratchBytes, BAR_GLYPHS.scratch, 'dim'],
      [gpu.freeBytes, BAR_GLYPHS.free, 'dim'],
    ],
    width,
    color,
  );
  const kvUse = gpu.kvBytes > 0 ? ` (${Math.round((100 * gpu.kvUsedBytes) / gpu.kvBytes)}% used)` : '';
  const parts = [
    `weights ${formatBytes(gpu.weightsBytes)}`,
    `kv ${formatBytes(gpu.kvBytes)}${kvUse}`,
    `free ${formatBytes(gpu.freeBytes)} of ${formatBytes(gpu.memoryBytes)}`,
    `resident: ${gpu.resident.join(', ') || '-'}`,
  ];
  return `${name}  ${memory}  ${parts.join('  ')}`;
}

/**
 * A `[####===..]` bar of `width` characters. Segment edges are rounded from running totals, so the parts
 * always add up to the full width whatever the rounding.
 */
export function bar(parts: readonly (readonly [bytes: number, glyph: string, color: Color])[], width: number, color: boolean): string {
  const total = parts.reduce((sum, [bytes]) => sum + Math.max(0, bytes), 0);
  if (total <= 0) return `[${' '.repeat(width)}]`;
  let cumulative = 0;
  let drawn = 0;
  const segments = parts.map(([bytes, glyph, tint]) => {
    cumulative += Math.max(0, bytes);
    const end = Math.round((cumulative / total) * width);
    const text = glyph.repeat(end - drawn);
    drawn = end;
    return paint(text, tint, color);
  });
  return `[${segments.join('')}]`;
}

function legend(color: boolean): string {
  const g = BAR_GLYPHS;
  return paint(`memory: ${g.weights} weights (host pool: used)  ${g.kv} KV pool  ${g.scratch} scratch  ${g.free} free;  ! over SLO`, 'dim', color);
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
