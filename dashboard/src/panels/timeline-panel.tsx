import type { TimelineStore } from '../timeline-store.js';
import { functionColor } from '../format.js';
import { ROW_HEIGHT, SpanMark, mergeRuns, type Scale } from './timeline-marks.js';

export const WINDOWS_MS = [60_000, 120_000, 300_000] as const;

interface Props {
  readonly store: TimelineStore;
  readonly nowMs: number;
  readonly windowMs: number;
  readonly onWindow: (ms: number) => void;
}

/** The Gantt chart: one row per device slot, time flowing left to right, "now" at the right edge. */
export function TimelinePanel({ store, nowMs, windowMs, onWindow }: Props) {
  const scale: Scale = { startMs: nowMs - windowMs, endMs: nowMs };
  const rows = [...store.rows.values()].sort((a, b) => a.key.localeCompare(b.key));
  const tickMs = windowMs <= 60_000 ? 10_000 : windowMs <= 120_000 ? 20_000 : 60_000;
  const ticks: number[] = [];
  for (let back = 0; back <= windowMs; back += tickMs) ticks.push(back);
  return (
    <section class="panel timeline" data-panel="timeline">
      <header>
        <h2>Device timeline</h2>
        <div class="window-picker" role="group" aria-label="time window">
          {WINDOWS_MS.map((ms) => (
            <button type="button" class={ms === windowMs ? 'active' : ''} onClick={() => onWindow(ms)}>{`${ms / 60_000} min`}</button>
          ))}
        </div>
      </header>
      <Legend names={store.functions()} />
      {rows.length === 0 ? (
        <p class="empty">No device activity recorded yet. Spans appear here as soon as a function runs.</p>
      ) : (
        <div class="gantt">
          {rows.map((row) => {
            const visible = row.spans.filter((s) => s.endMs >= scale.startMs);
            const marks = mergeRuns(visible, windowMs / 800);
            return (
              <div class="gantt-row" data-row={row.key} key={row.key}>
                <div class="gantt-label" title={row.nodeId}>
                  <strong>{row.label}</strong>
                  <span>{row.nodeId}</span>
                </div>
                <svg class="gantt-lane" height={ROW_HEIGHT} width="100%" role="img" aria-label={`timeline of ${row.label} on ${row.nodeId}`}>
                  {ticks.map((back) => <line class="grid" x1={`${100 - (back / windowMs) * 100}%`} x2={`${100 - (back / windowMs) * 100}%`} y1={0} y2={ROW_HEIGHT} />)}
                  {marks.map((span) => <SpanMark span={span} scale={scale} key={`${span.kind}-${span.seq}`} />)}
                </svg>
              </div>
            );
          })}
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
      {store.unavailable.length > 0 && (
        <p class="note">{store.unavailable.map((u) => `${u.nodeId}: ${u.message}`).join(' · ')}</p>
      )}
    </section>
  );
}

function Legend({ names }: { names: readonly string[] }) {
  return (
    <ul class="legend">
      {names.map((name) => (
        <li><i style={{ background: functionColor(name) }} />{name}</li>
      ))}
      <li><i class="key switch" />switch</li>
      <li><i class="key prefetch" />prefetch / load (weights → device)</li>
      <li><i class="key park" />KV park</li>
      <li><i class="key restore" />KV restore</li>
      <li><i class="key evict" />evict</li>
    </ul>
  );
}
