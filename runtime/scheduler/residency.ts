import type { ModelState } from './state.js';

/**
 * Which resident model gives up its GPU slot. Idle models (no live requests) go first, then — only when
 * `allowBusy` — models with work, whose decoding sequences must be parked before the evict. Within each
 * group the model least worth keeping goes first: `keepValue` (higher keeps; e.g. how often the model is
 * asked for, so a hot model is not pushed out by a cold one), ties broken least recently run first. Models
 * in `protect` (the turn about to run, the turn running) are never chosen. Returns undefined when nothing
 * may be evicted. Pure.
 */
export function chooseVictim(
  models: Iterable<Readonly<ModelState>>,
  protect: ReadonlySet<string>,
  allowBusy: boolean,
  keepValue: (m: Readonly<ModelState>) => number = () => 0,
): Readonly<ModelState> | undefined {
  let idle: { m: Readonly<ModelState>; v: number } | undefined;
  let busy: { m: Readonly<ModelState>; v: number } | undefined;
  const better = (a: { m: Readonly<ModelState>; v: number }, b: { m: Readonly<ModelState>; v: number } | undefined) =>
    !b || a.v < b.v || (a.v === b.v && a.m.lastRunMs < b.m.lastRunMs);
  for (const m of models) {
    if (m.residency !== 'resident' || protect.has(m.ref.weightsDigest)) continue;
    const c = { m, v: keepValue(m) };
    if (m.requests.size === 0) {
      if (better(c, idle)) idle = c;
    } else if (better(c, busy)) {
      busy = c;
    }
  }
  return idle?.m ?? (allowBusy ? busy?.m : undefined);
}

export function residentCount(models: Iterable<Readonly<ModelState>>): number {
  let n = 0;
  for (const m of models) if (m.residency !== 'absent') n++;
  return n;
}
