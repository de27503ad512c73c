import type { TimelineSpan } from '../../../runtime/timeline/timeline-types.js';
import { formatBytes, formatMs, functionColor } from '../format.js';

/** Row geometry in px: the run lane on top, the copy lane (prefetch, load) and the KV lane below it. */
export const ROW_HEIGHT = 56;
const RUN = { y: 4, h: 24 };
const COPY = { y: 31, h: 9 };
const KV = { y: 43, h: 9 };

export interface Scale {
  readonly startMs: number;
  readonly endMs: number;
}

/** A time as a percentage of the chart's width, clamped to the visible window. */
function pct(scale: Scale, ms: number): number {
  const x = ((ms - scale.startMs) / (scale.endMs - scale.startMs)) * 100;
  return Math.min(100, Math.max(0, x));
}

function widthPct(scale: Scale, startMs: number, endMs: number): string {
  return `${Math.max(0, pct(scale, endMs) - pct(scale, startMs)).toFixed(3)}%`;
}

/**
 * Run spans of one function that nearly touch are drawn as one bar: on a CPU engine a turn may be a few ms,
 * and thousands of slivers would only cost the browser time. Token and step counts add up.
 */
export function mergeRuns(spans: readonly TimelineSpan[], gapMs: number): TimelineSpan[] {
  const out: TimelineSpan[] = [];
  for (const span of spans) {
    const last = out.at(-1);
    if (span.kind === 'run' && last?.kind === 'run' && last.function === span.function && span.startMs - last.endMs <= gapMs) {
      out[out.length - 1] = { ...last, endMs: span.endMs, tokens: last.tokens + span.tokens, steps: last.steps + span.steps };
    } else {
      out.push(span);
    }
  }
  return out;
}

/** One span as SVG. Every mark carries `data-kind`, `data-function`, `data-end` (epoch ms) and, for switches, `data-from`. */
export function SpanMark({ span, scale }: { span: TimelineSpan; scale: Scale }) {
  const x = `${pct(scale, span.startMs).toFixed(3)}%`;
  const color = functionColor(span.function);
  const ms = formatMs(span.endMs - span.startMs);
  const common = { 'data-kind': span.kind, 'data-function': span.function, 'data-end': Math.round(span.endMs) };
  switch (span.kind) {
    case 'run':
      return (
        <rect {...common} class="mark run" x={x} y={RUN.y} height={RUN.h} width={widthPct(scale, span.startMs, span.endMs)} fill={color} stroke={color}>
          <title>{`${span.function}: ran ${ms}, ${span.tokens} tokens in ${span.steps} steps`}</title>
        </rect>
      );
    case 'prefetch':
    case 'load':
      return (
        <rect {...common} class={`mark ${span.kind}`} x={x} y={COPY.y} height={COPY.h} width={widthPct(scale, span.startMs, span.endMs)} fill={color} stroke={color}>
          <title>{`${span.function}: ${span.kind === 'prefetch' ? 'prefetched' : 'loaded (waiting)'} ${formatBytes(span.bytes)} of weights host → device in ${ms}`}</title>
        </rect>
      );
    case 'park':
    case 'restore':
      return (
        <rect {...common} class={`mark ${span.kind}`} x={x} y={KV.y} height={KV.h} width={widthPct(scale, span.startMs, span.endMs)}>
          <title>{`${span.function}: ${span.kind === 'park' ? 'parked KV to host' : 'restored KV from host'}, ${span.sequences} sequence(s), ${formatBytes(span.bytes)} in ${ms}`}</title>
        </rect>
      );
    case 'switch':
      return (
        <line {...common} data-from={span.from ?? ''} class="mark switch" x1={x} x2={x} y1={1} y2={RUN.y + RUN.h + 2}>
          <title>{`switch ${span.from ?? '(idle)'} → ${span.function} at a token boundary`}</title>
        </line>
      );
    case 'evict':
      return (
        <line {...common} class="mark evict" x1={x} x2={x} y1={COPY.y} y2={KV.y + KV.h}>
          <title>{`${span.function}: weights evicted from the device`}</title>
        </line>
      );
    case 'error':
      return (
        <line {...common} class="mark error" x1={x} x2={x} y1={0} y2={ROW_HEIGHT}>
          <title>{`${span.function}: ${span.message}`}</title>
        </line>
      );
  }
}
