import { useState } from 'preact/hooks';
import type { TimelineSpan } from '../../../protocol/timeline-types.js';
import type { TimelineRow, TimelineStore } from '../timeline-store.js';
import { layoutBars, layoutInstants, layoutRuns, toPx, type PxScale } from '../timeline-layout.js';
import { useChartClock, useWidth } from './timeline-hooks.js';
import { HatchDefs, TimelineLegend, hatchId } from './timeline-legend.js';
import { AlertMark, ROW_HEIGHT, RunBar, SpanBarMark, SwitchMark, type OnDetail } from './timeline-marks.js';

/** Windows the chart offers; the first is the default: short enough that single token-level turns show. */
export const WINDOWS_MS = [2_000, 15_000, 60_000, 300_000] as const;
const TICK_MS: Record<number, number> = { 2000: 500, 15000: 3_000, 60000: 10_000, 300000: 60_000 };
/** Width of the row labels left of the lanes, px (kept in step with `.gantt-label` in styles.css). */
const LABEL_PX = 170;
/** A load or KV move is recorded when it ends, so spans a little out of order by end time are still scanned. */
const SCAN_SLACK_MS = 10_000;

function windowLabel(ms: number): string {
  return ms < 60_000 ? `${ms / 1000} s` : `${ms / 60_000} min`;
}

/** The row's spans that may touch the window; rows are appended oldest first, so scan from the end. */
function recentSpans(row: TimelineRow, startMs: number): TimelineSpan[] {
  const out: TimelineSpan[] = [];
  for (let i = row.spans.length - 1; i >= 0; i--) {
    const span = row.spans[i]!;
    if (span.endMs < startMs - SCAN_SLACK_MS) break;
    if (span.endMs >= startMs) out.push(span);
  }
  return out.reverse();
}

/** The Gantt chart: one row per device, time flowing left to right, "now" at the right edge. */
export function TimelinePanel({ store }: { store: TimelineStore }) {
  const [windowMs, setWindowMs] = useState<number>(WINDOWS_MS[0]);
  const [frozen, setFrozen] = useState(false);
  const [detail, setDetail] = useState<string | undefined>(undefined);
  const [ganttRef, ganttPx] = useWidth(1200);
  const nowMs = useChartClock(() => store.now(), windowMs <= 15_000 ? 'frame' : 250, frozen);
  const widthPx = Math.max(100, ganttPx - LABEL_PX);
  const scale: PxScale = { startMs: nowMs - windowMs, endMs: nowMs, widthPx };
  const names = store.functions();
  const rows = [...store.rows.values()].sort((a, b) => a.key.localeCompare(b.key));
  const tickMs = TICK_MS[windowMs] ?? windowMs / 4;
  const ticks: number[] = [];
  for (let back = 0; back <= windowMs; back += tickMs) ticks.push(back);
  return (
    <section class="panel timeline" data-panel="timeline">
      <header>
        <h2>Device timeline {frozen && <span class="paused">paused while the pointer is on the chart</span>}</h2>
        {/* biome-ignore lint/a11y/useSemanticElements: a row of toggle buttons, not a form field set */}
        <div class="window-picker" role="group" aria-label="time window">
          {WINDOWS_MS.map((ms) => (
            <button type="button" class={ms === windowMs ? 'active' : ''} aria-pressed={ms === windowMs} onClick={() => setWindowMs(ms)}>
              {windowLabel(ms)}
            </button>
          ))}
        </div>
      </header>
      <TimelineLegend names={names} />
      <HatchDefs names={names} />
      {rows.length === 0 ? (
        <p class="empty">No device activity recorded yet. Spans appear here as soon as a function runs.</p>
      ) : (
        // biome-ignore lint/a11y/noStaticElementInteractions: hovering only pauses the redraw so a span can be read; nothing is activated
        <div
          class="gantt"
          ref={ganttRef}
          onMouseEnter={() => setFrozen(true)}
          onMouseLeave={() => {
            setFrozen(false);
            setDetail(undefined);
          }}
        >
          {rows.map((row) => (
            <DeviceRow
              row={row}
              spans={recentSpans(row, scale.startMs)}
              scale={scale}
              names={names}
              ticks={ticks}
              windowMs={windowMs}
              onDetail={setDetail}
              key={row.key}
            />
          ))}
          <div class="gantt-row axis">
            <div class="gantt-label" />
            <div class="gantt-axis">
              {ticks.map((back) => (
                <span style={{ left: `${100 - (back / windowMs) * 100}%` }}>{back === 0 ? 'now' : `−${back / 1000} s`}</span>
              ))}
            </div>
          </div>
        </div>
      )}
      <p class="readout" data-readout aria-live="polite">
        {detail ?? 'Point at a mark for its function, duration and tokens; the chart holds still meanwhile.'}
      </p>
      {store.unavailable.length > 0 && <p class="note">{store.unavailable.map((u) => `${u.nodeId}: ${u.message}`).join(' · ')}</p>}
    </section>
  );
}

interface RowProps {
  readonly row: TimelineRow;
  readonly spans: readonly TimelineSpan[];
  readonly scale: PxScale;
  readonly names: readonly string[];
  readonly ticks: readonly number[];
  readonly windowMs: number;
  readonly onDetail: OnDetail;
}

function DeviceRow({ row, spans, scale, names, ticks, windowMs, onDetail }: RowProps) {
  const gridX = (back: number) => Math.round(scale.widthPx * (1 - back / windowMs)) + 0.5;
  return (
    <div class="gantt-row" data-row={row.key}>
      <div class="gantt-label" title={row.nodeId}>
        <strong>{row.label}</strong>
        <span>{row.nodeId}</span>
      </div>
      <svg class="gantt-lane" height={ROW_HEIGHT} width={scale.widthPx} role="img" aria-label={`timeline of ${row.label} on ${row.nodeId}`}>
        {ticks.map((back) => (
          <line class="grid" x1={gridX(back)} x2={gridX(back)} y1={0} y2={ROW_HEIGHT} />
        ))}
        <Unreported fromPx={toPx(scale, row.reportedMs)} widthPx={scale.widthPx} />
        {layoutBars(spans, ['prefetch', 'load', 'park', 'restore'], scale).map((bar) => (
          <SpanBarMark bar={bar} hatchId={(fn) => hatchId(names, fn)} onDetail={onDetail} key={`${bar.span.kind}-${bar.span.seq}`} />
        ))}
        {layoutRuns(spans, scale).map((mark) => (
          <RunBar mark={mark} order={names} onDetail={onDetail} key={`run-${mark.startMs}`} />
        ))}
        {layoutInstants(spans, ['switch'], scale).map((mark) => (
          <SwitchMark mark={mark} onDetail={onDetail} key={`sw-${mark.span.seq}`} />
        ))}
        {layoutInstants(spans, ['evict', 'error'], scale).map((mark) => (
          <AlertMark mark={mark} onDetail={onDetail} key={`al-${mark.span.seq}`} />
        ))}
      </svg>
    </div>
  );
}

/**
 * The stretch since the node last answered: turns there have not been reported yet (spans are sent when they
 * end, a few times a second), so it is shaded rather than left looking idle.
 */
function Unreported({ fromPx, widthPx }: { fromPx: number; widthPx: number }) {
  if (widthPx - fromPx < 1) return null;
  return (
    <rect class="unreported" data-kind="unreported" x={fromPx} y={0} width={widthPx - fromPx} height={ROW_HEIGHT}>
      <title>not reported yet: the node sends each span when it ends</title>
    </rect>
  );
}
