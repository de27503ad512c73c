import type { OpsInvocation } from '../platform/ops/ops-types.js';

/**
 * Where `tidepool logs --follow` asks from next. Records land in batches (every 250 ms per control-plane
 * replica) and replicas' clocks differ a little, so a row can arrive finished slightly before the newest one
 * already shown. The cursor therefore asks again from `overlapMs` before the newest finish it saw and drops
 * rows it already printed; ids older than the overlap are forgotten, keeping memory flat on long follows.
 */
export class FollowCursor {
  private newestFinishMs = 0;
  private readonly printed = new Map<string, number>();

  constructor(private readonly overlapMs = 5_000) {}

  /** The `since` parameter for the next poll (ISO time); the epoch before any row, meaning all of them. */
  since(): string {
    return new Date(Math.max(0, this.newestFinishMs - this.overlapMs)).toISOString();
  }

  /** The rows not printed before, in the order given; marks them printed. */
  fresh(rows: readonly OpsInvocation[]): OpsInvocation[] {
    const out = rows.filter((row) => !this.printed.has(row.id));
    for (const row of rows) {
      const finishedMs = Date.parse(row.finished_at ?? row.started_at);
      this.printed.set(row.id, finishedMs);
      this.newestFinishMs = Math.max(this.newestFinishMs, finishedMs);
    }
    const forgetBefore = this.newestFinishMs - 2 * this.overlapMs;
    for (const [id, finishedMs] of this.printed) if (finishedMs < forgetBefore) this.printed.delete(id);
    return out;
  }
}
