/**
 * Token ids → text, incrementally. Decoding token by token breaks multi-byte characters and merges that
 * depend on neighbours, so each step decodes a short window of recent tokens and emits only what is new;
 * text ending in U+FFFD (an incomplete UTF-8 sequence) is held until the next token completes it.
 */
export interface Detokenizer {
  decode(ids: readonly number[]): string;
}

export class IncrementalDetokenizer {
  private readonly ids: number[] = [];
  /** Tokens before `prefixStart` are already emitted and no longer influence new text. */
  private prefixStart = 0;
  private readStart = 0;

  constructor(private readonly tokenizer: Detokenizer) {}

  push(token: number): string {
    this.ids.push(token);
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixStart, this.readStart));
    const fullText = this.tokenizer.decode(this.ids.slice(this.prefixStart));
    if (fullText.length <= prefixText.length || fullText.endsWith('\uFFFD')) return '';
    this.prefixStart = this.readStart;
    this.readStart = this.ids.length;
    return fullText.slice(prefixText.length);
  }

  /** Whatever is still held at the end, replacement characters included. */
  flush(): string {
    const prefixText = this.tokenizer.decode(this.ids.slice(this.prefixStart, this.readStart));
    const fullText = this.tokenizer.decode(this.ids.slice(this.prefixStart));
    this.prefixStart = this.readStart = this.ids.length;
    return fullText.length > prefixText.length ? fullText.slice(prefixText.length) : '';
  }
}

/**
 * Cuts generated text at the first stop string. Text that could still become a stop string (a suffix that is
 * a prefix of one) is held back, so a client never sees part of a stop sequence.
 */
export class StopFilter {
  private held = '';
  private readonly stops: readonly string[];

  constructor(stops: readonly string[]) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  push(text: string): { readonly text: string; readonly stopped: boolean } {
    if (this.stops.length === 0) return { text, stopped: false };
    const buffer = this.held + text;
    let cut = -1;
    for (const stop of this.stops) {
      const at = buffer.indexOf(stop);
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      this.held = '';
      return { text: buffer.slice(0, cut), stopped: true };
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
