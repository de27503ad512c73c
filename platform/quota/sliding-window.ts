/**
 * A budget over a sliding window (a minute, for rpm and tpm), kept as one sum per slot (a second) so memory
 * stays at about window/slot numbers however many requests it sees.
 *
 * A charge made during slot `s` counts until the end of slot `s` plus the whole window, i.e. for at least
 * `windowMs` and at most `windowMs + slotMs` after it was made. Rounding that way is what makes the limit
 * strict: in any `windowMs` interval, the charges admitted sum to at most the limit.
 *
 * Time is passed in (`now`, ms) rather than read, so callers inject their clock and tests need no timers.
 * Single-threaded by design: `waitMs` then `charge` with no await between them is atomic.
 */
export class SlidingWindow {
  private readonly windowMs: number;
  private readonly slotMs: number;
  /** slot index → amount charged in it and not refunded; only live slots are kept. */
  private readonly slots = new Map<number, number>();

  constructor(options: { readonly windowMs?: number; readonly slotMs?: number } = {}) {
    this.windowMs = options.windowMs ?? 60_000;
    this.slotMs = options.slotMs ?? 1000;
    if (!(this.slotMs > 0) || !(this.windowMs >= this.slotMs)) throw new Error(`invalid window ${this.windowMs} ms / slot ${this.slotMs} ms`);
  }

  /** What is charged in the window ending at `now`. */
  used(now: number): number {
    let sum = 0;
    for (const amount of this.liveSlots(now).values()) sum += amount;
    return sum;
  }

  /**
   * Milliseconds from `now` until `cost` more fits under `limit`: 0 when it fits now, Infinity when it never
   * will (`cost` alone exceeds `limit`). Mutates nothing but the pruning of expired slots.
   */
  waitMs(cost: number, limit: number, now: number): number {
    if (cost > limit) return Infinity;
    const live = this.liveSlots(now);
    let excess = this.used(now) + cost - limit;
    if (excess <= 0) return 0;
    for (const slot of [...live.keys()].sort((a, b) => a - b)) {
      excess -= live.get(slot)!;
      if (excess <= 0) return this.expiry(slot) - now;
    }
    // Unreachable: once every slot expires the window is empty and cost <= limit fits.
    return this.windowMs + this.slotMs;
  }

  /** Charges `cost` at `now`. The handle gives back part of it; a refund after the charge expired does nothing. */
  charge(cost: number, now: number): WindowCharge {
    const slot = Math.floor(now / this.slotMs);
    this.liveSlots(now);
    this.slots.set(slot, (this.slots.get(slot) ?? 0) + cost);
    let remaining = cost;
    return {
      refund: (amount) => {
        const give = Math.min(Math.max(0, amount), remaining);
        const current = this.slots.get(slot);
        if (give <= 0 || current === undefined) return;
        remaining -= give;
        if (current - give <= 0) this.slots.delete(slot);
        else this.slots.set(slot, current - give);
      },
    };
  }

  /** True when nothing is charged in the window ending at `now` (the owner may drop this window). */
  isEmpty(now: number): boolean {
    return this.liveSlots(now).size === 0;
  }

  private expiry(slot: number): number {
    return (slot + 1) * this.slotMs + this.windowMs;
  }

  private liveSlots(now: number): Map<number, number> {
    for (const slot of this.slots.keys()) if (this.expiry(slot) <= now) this.slots.delete(slot);
    return this.slots;
  }
}

export interface WindowCharge {
  /** Gives back up to `amount` of this charge (never more than was charged, in total over calls). */
  refund(amount: number): void;
}
