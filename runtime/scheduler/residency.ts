import type { ModelState } from './state.js';

/**
 * Which resident model gives up its GPU slot. Idle models (no live requests) go first, least recently run
 * first; a model with work is chosen only when `allowBusy` and nothing idle is left, and its decoding
 * sequences must be parked before the evict. Models in `protect` (the turn about to run, the turn running)
 * are never chosen. Returns undefined when nothing may be evicted. Pure.
 */
export function chooseVictim(
  models: Iterable<Readonly<ModelState>>,
  protect: ReadonlySet<string>,
  allowBusy: boolean,
): Readonly<ModelState> | undefined {
  let idle: Readonly<ModelState> | undefined;
  let busy: Readonly<ModelState> | undefined;
  for (const m of models) {
    if (m.residency !== 'resident' || protect.has(m.ref.key)) continue;
    if (m.requests.size === 0) {
      if (!idle || m.lastRunMs < idle.lastRunMs) idle = m;
    } else if (!busy || m.lastRunMs < busy.lastRunMs) {
      busy = m;
    }
  }
  return idle ?? (allowBusy ? busy : undefined);
}

export function residentCount(models: Iterable<Readonly<ModelState>>): number {
  let n = 0;
  for (const m of models) if (m.residency !== 'absent') n++;
  return n;
}
