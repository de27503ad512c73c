import { formatBytes, functionColor } from '../format.js';
import { describeInstant, describeRun, describeSpan } from '../timeline-details.js';
import type { InstantMark, RunMark, SpanBar } from '../timeline-layout.js';

/** Row geometry in px: switch markers on top, then the run lane, the copy lane (prefetch, load) and the KV lane. */
export const ROW_HEIGHT = 64;
const SWITCH = { y: 0, h: 7 };
const RUN = { y: 9, h: 26 };
const COPY = { y: 38, h: 11 };
const KV = { y: 51, h: 11 };
/** Rough width of one character of the 10 px label font, to decide whether a label fits its bar. */
const CHAR_PX = 6;

/** Whole pixels, so the 1 px gap the layout keeps between marks is drawn as a clean white line. */
function box(x0: number, x1: number): { x: number; width: number } {
  const x = Math.round(x0);
  return { x, width: Math.max(1, Math.round(x1) - x) };
}

export type OnDetail = (text: string | undefined) => void;

function hover(text: string, onDetail: OnDetail) {
  return { onMouseEnter: () => onDetail(text), onMouseLeave: () => onDetail(undefined) };
}

/** A label inside a bar, drawn only where it fits. */
function Label({ x, width, y, h, text, class: cls }: { x: number; width: number; y: number; h: number; text: string; class: string }) {
  if (text.length * CHAR_PX + 8 > width) return null;
  return (
    <text class={`mark-label ${cls}`} x={x + 4} y={y + h / 2} dominant-baseline="central">
      {text}
    </text>
  );
}

/**
 * A run mark. One function: a bar in its color with `data-kind="run"`. A pooled column (turns shorter than
 * the window can draw one by one) is split top to bottom by each function's share of run time, in legend
 * order, each part at least 3 px tall, with `data-kind="run-mix"`.
 */
export function RunBar({ mark, order, onDetail }: { mark: RunMark; order: readonly string[]; onDetail: OnDetail }) {
  const { x, width } = box(mark.x0, mark.x1);
  const text = describeRun(mark);
  const end = Math.round(mark.endMs);
  if (mark.shares.length === 1) {
    const share = mark.shares[0]!;
    const color = functionColor(share.function);
    return (
      <g class="mark run" data-kind="run" data-function={share.function} data-end={end} {...hover(text, onDetail)}>
        <rect x={x} y={RUN.y} width={width} height={RUN.h} fill={color} shape-rendering="crispEdges">
          <title>{text}</title>
        </rect>
        <Label x={x} width={width} y={RUN.y} h={RUN.h} class="on-run" text={`${share.function} · ${share.tokens} tok`} />
      </g>
    );
  }
  const shares = [...mark.shares].sort((a, b) => order.indexOf(a.function) - order.indexOf(b.function));
  const total = shares.reduce((sum, s) => sum + s.ms, 0);
  const minH = 3;
  const spare = RUN.h - minH * shares.length;
  let y = RUN.y;
  return (
    <g class="mark run-mix" data-kind="run-mix" data-functions={shares.map((s) => s.function).join(',')} data-end={end} {...hover(text, onDetail)}>
      <title>{text}</title>
      {shares.map((share, i) => {
        const h = i === shares.length - 1 ? RUN.y + RUN.h - y : minH + Math.round((spare * share.ms) / total);
        const part = (
          <rect data-function={share.function} x={x} y={y} width={width} height={h} fill={functionColor(share.function)} shape-rendering="crispEdges" />
        );
        y += h;
        return part;
      })}
    </g>
  );
}

/** A switch: a chevron above the run lane; several within one bin draw as one chevron widened to span them. */
export function SwitchMark({ mark, onDetail }: { mark: InstantMark; onDetail: OnDetail }) {
  const span = mark.span;
  const text = describeInstant(mark);
  const common = {
    class: 'mark switch',
    'data-kind': 'switch',
    'data-count': mark.count,
    'data-function': span.function,
    'data-from': span.kind === 'switch' ? (span.from ?? '') : '',
    ...hover(text, onDetail),
  };
  const x = Math.round(mark.x);
  const spread = Math.round(mark.lastX) - x;
  const d = `M${x - 3.5},${SWITCH.y} h${7 + spread} L${x + spread},${SWITCH.y + SWITCH.h} H${x} Z`;
  return (
    <path {...common} class={mark.count === 1 ? 'mark switch' : 'mark switch many'} d={d}>
      <title>{text}</title>
    </path>
  );
}

/** A weight copy (copy lane, in the function's color: hatched when the turn waited, outlined when prefetched) or a KV move (KV lane). */
export function SpanBarMark({ bar, hatchId, onDetail }: { bar: SpanBar; hatchId: (fn: string) => string; onDetail: OnDetail }) {
  const span = bar.span;
  const { x, width } = box(bar.x0, bar.x1);
  const text = describeSpan(span);
  const common = { 'data-kind': span.kind, 'data-function': span.function, 'data-end': Math.round(span.endMs), ...hover(text, onDetail) };
  if (span.kind === 'prefetch' || span.kind === 'load') {
    const color = functionColor(span.function);
    const fill = span.kind === 'load' ? `url(#${hatchId(span.function)})` : 'none';
    return (
      <g class={`mark ${span.kind}`} {...common}>
        <rect x={x + 0.5} y={COPY.y + 0.5} width={Math.max(1, width - 1)} height={COPY.h - 1} fill={fill} stroke={color}>
          <title>{text}</title>
        </rect>
        <Label x={x} width={width} y={COPY.y} h={COPY.h} class="on-copy" text={`${span.function} ${formatBytes(span.bytes)}`} />
      </g>
    );
  }
  if (span.kind === 'park' || span.kind === 'restore') {
    return (
      <g class={`mark ${span.kind}`} {...common}>
        <rect x={x + 0.5} y={KV.y + 0.5} width={Math.max(1, width - 1)} height={KV.h - 1}>
          <title>{text}</title>
        </rect>
        <Label x={x} width={width} y={KV.y} h={KV.h} class="on-kv" text={`${span.kind} ${formatBytes(span.bytes)}`} />
      </g>
    );
  }
  return null;
}

/** An eviction (red line across the copy and KV lanes) or an error (thick red line through the row). */
export function AlertMark({ mark, onDetail }: { mark: InstantMark; onDetail: OnDetail }) {
  const span = mark.span;
  const x = Math.round(mark.x) + 0.5;
  const error = span.kind === 'error';
  return (
    <line
      class={`mark ${span.kind}`}
      data-kind={span.kind}
      data-function={span.function}
      data-count={mark.count}
      x1={x}
      x2={x}
      y1={error ? 0 : COPY.y}
      y2={error ? ROW_HEIGHT : KV.y + KV.h}
      {...hover(describeInstant(mark), onDetail)}
    >
      <title>{describeInstant(mark)}</title>
    </line>
  );
}
