/**
 * A fixed-capacity ring of entries ordered by `endMs`, oldest overwritten first. Memory stays bounded
 * whatever the event rate: at capacity a push drops the oldest entry, and `since` skips entries older than
 * the age window even before they are overwritten.
 */
export class SpanRing<T extends { readonly endMs: number }> {
  private readonly slots: (T | undefined)[];
  /** Index of the oldest entry. */
  private head = 0;
  private size = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`span ring capacity must be a positive integer, got ${capacity}`);
    this.slots = new Array<T | undefined>(capacity);
  }

  get length(): number {
    return this.size;
  }

  push(entry: T): void {
    const tail = (this.head + this.size) % this.capacity;
    this.slots[tail] = entry;
    if (this.size < this.capacity) this.size++;
    else this.head = (this.head + 1) % this.capacity;
  }

  /** Drops entries that ended at or before `cutoffMs`, so they stop holding memory. */
  dropBefore(cutoffMs: number): void {
    while (this.size > 0 && this.slots[this.head]!.endMs <= cutoffMs) {
      this.slots[this.head] = undefined;
      this.head = (this.head + 1) % this.capacity;
      this.size--;
    }
  }

  /** Entries that ended after `afterMs`, oldest first; a copy. */
  since(afterMs: number): T[] {
    const out: T[] = [];
    // Newest entries sit at the tail: walk back until one is too old, then reverse.
    for (let i = this.size - 1; i >= 0; i--) {
      const entry = this.slots[(this.head + i) % this.capacity]!;
      if (entry.endMs <= afterMs) break;
      out.push(entry);
    }
    return out.reverse();
  }
}
