/**
 * Cuts generated text at the first stop string. Text that could still become a stop string (a suffix that is
 * a prefix of one) is held back, so a client never sees part of a stop sequence. With `includeStop`
 * (vLLM's `include_stop_str_in_output`) the cut falls after the stop string instead of before it.
 */
export class StopFilter {
  private held = '';
  private readonly stops: readonly string[];

  constructor(
    stops: readonly string[],
    private readonly includeStop = false,
  ) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** `armed` false (before `min_tokens` are out, as vLLM does): no stop string is looked for yet. */
  push(text: string, armed = true): { readonly text: string; readonly stopped: boolean } {
    if (this.stops.length === 0) return { text, stopped: false };
    const buffer = this.held + text;
    if (!armed) {
      this.held = '';
      return { text: buffer, stopped: false };
    }
    let cut = -1;
    let length = 0;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) {
        cut = at;
        length = stop.length;
      }
    }
    if (cut >= 0) {
      this.held = '';
      return { text: buffer.slice(0, this.includeStop ? cut + length : cut), stopped: true };
    }
    const keep = this.holdLength(buffer);
    this.held = buffer.slice(buffer.length - keep);
    return { text: buffer.slice(0, buffer.length - keep), stopped: false };
  }

  flush(): string {
    const rest = this.held;
    this.held = '';
    return rest;
  }

  /** Length of the longest suffix of `buffer` that is a proper prefix of some stop string. */
  private holdLength(buffer: string): number {
    let best = 0;
    for (const stop of this.stops) {
      for (let n = Math.min(stop.length - 1, buffer.length); n > best; n--) {
        if (buffer.endsWith(stop.slice(0, n))) {
          best = n;
          break;
        }
      }
    }
    return best;
  }
}
