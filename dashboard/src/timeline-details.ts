import type { TimelineSpan } from '../../protocol/timeline-types.js';
import { formatBytes, formatClockMs, formatMs } from './format.js';
import type { InstantMark, RunMark, RunShare } from './timeline-layout.js';

/** The sentences the chart shows for a hovered mark (and as its SVG title). */

function shareText(share: RunShare): string {
  const turns = share.turns === 1 ? '1 turn' : `${share.turns} turns`;
  return `${share.function} ran ${formatMs(share.ms)}, ${share.tokens} tokens in ${share.steps} steps (${turns})`;
}

export function describeRun(mark: RunMark): string {
  const at = `${formatClockMs(mark.startMs)}–${formatClockMs(mark.endMs)}`;
  if (mark.shares.length === 1) {
    const share = mark.shares[0]!;
    return `${shareText(share)}, last turn ended: ${share.reason} · ${at}`;
  }
  const total = mark.shares.reduce((sum, s) => sum + s.ms, 0);
  const parts = mark.shares.map((s) => `${shareText(s)}, ${Math.round((s.ms / total) * 100)}% of run time`);
  return `turns too short to draw one by one here: ${parts.join('; ')} · ${at}`;
}

export function describeSpan(span: TimelineSpan): string {
  const ms = formatMs(span.endMs - span.startMs);
  const at = formatClockMs(span.startMs);
  switch (span.kind) {
    case 'run':
      return `${span.function} ran ${ms}, ${span.tokens} tokens in ${span.steps} steps · ${at}`;
    case 'switch':
      return `switch ${span.from ?? '(idle)'} → ${span.function} at a token boundary · ${at}`;
    case 'prefetch':
      return `${span.function}: prefetched ${formatBytes(span.bytes)} of weights host → device in ${ms}, overlapping another turn · ${at}`;
    case 'load':
      return `${span.function}: loaded ${formatBytes(span.bytes)} of weights host → device in ${ms} while its turn waited · ${at}`;
    case 'park':
      return `${span.function}: parked KV of ${span.sequences} sequence(s), ${formatBytes(span.bytes)}, to host in ${ms} · ${at}`;
    case 'restore':
      return `${span.function}: restored KV of ${span.sequences} sequence(s), ${formatBytes(span.bytes)}, from host in ${ms} · ${at}`;
    case 'evict':
      return `${span.function}: weights evicted from the device · ${at}`;
    case 'error':
      return `${span.function}: ${span.message} · ${at}`;
  }
}

export function describeInstant(mark: InstantMark): string {
  if (mark.count === 1) return describeSpan(mark.span);
  const what = mark.span.kind === 'switch' ? 'switches' : `${mark.span.kind}s`;
  return `${mark.count} ${what} here; the latest: ${describeSpan(mark.span)}`;
}
