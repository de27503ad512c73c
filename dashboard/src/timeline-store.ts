import type { ClusterTimeline } from '../../platform/api/ops-timeline-types.js';
import type { TimelineSpan } from '../../protocol/timeline-types.js';

/** One Gantt row: one device slot of one node. */
export interface TimelineRow {
  readonly key: string;
  readonly nodeId: string;
  readonly gpu: number;
  readonly label: string;
  readonly spans: TimelineSpan[];
  /** The node's clock when it last answered: what ended before this has been sent; after it, not yet. */
  reportedMs: number;
}

/** How much history the page keeps, whatever window the chart shows. */
export const KEEP_MS = 5 * 60_000;

/**
 * The spans the page has seen, per row, oldest first. `timeline` events only carry new spans, so this is
 * append-only apart from pruning; the server's clock offset is kept so "now" on the chart is the server's.
 */
export class TimelineStore {
  readonly rows = new Map<string, TimelineRow>();
  unavailable: ClusterTimeline['unavailable'] = [];
  /** Server time minus browser time, ms. */
  private offsetMs = 0;
  /** Functions seen in runs; kept as spans arrive because the chart asks for them every frame. */
  private readonly runNames = new Set<string>();

  add(event: ClusterTimeline): void {
    this.offsetMs = event.nowMs - Date.now();
    this.unavailable = event.unavailable;
    for (const node of event.nodes) {
      for (const gpu of node.gpus) this.row(node.nodeId, gpu.index, gpu.label);
      for (const span of node.spans) {
        this.row(node.nodeId, span.gpu, `gpu ${span.gpu}`).spans.push(span);
        if (span.kind === 'run') this.runNames.add(span.function);
      }
      for (const row of this.rows.values()) if (row.nodeId === node.nodeId) row.reportedMs = node.nowMs;
    }
    this.prune();
  }

  /** The server's clock now, as far as this page can tell. */
  now(): number {
    return Date.now() + this.offsetMs;
  }

  clear(): void {
    this.rows.clear();
    this.runNames.clear();
  }

  /** Function names seen in runs since the stream (re)opened, sorted, for the legend. */
  functions(): string[] {
    return [...this.runNames].sort();
  }

  private row(nodeId: string, gpu: number, label: string): TimelineRow {
    const key = `${nodeId}/${gpu}`;
    let row = this.rows.get(key);
    if (!row) {
      row = { key, nodeId, gpu, label, spans: [], reportedMs: 0 };
      this.rows.set(key, row);
    }
    return row;
  }

  private prune(): void {
    const cutoff = this.now() - KEEP_MS;
    for (const row of this.rows.values()) {
      const firstKept = row.spans.findIndex((s) => s.endMs >= cutoff);
      if (firstKept > 0) row.spans.splice(0, firstKept);
      else if (firstKept < 0) row.spans.length = 0;
    }
  }
}
