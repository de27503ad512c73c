/**
 * The output items this process produced on `/v1/responses`, by id, so a later request may name them with
 * `item_reference` (the Vercel AI SDK does for the assistant turns of a conversation unless `store: false`).
 * Kept in memory for an hour, at most `maxItems`, oldest out first; each control-plane replica keeps its own.
 */
export class ResponseItems {
  private readonly items = new Map<string, { readonly item: Record<string, unknown>; readonly at: number }>();

  constructor(
    private readonly maxItems = 10_000,
    private readonly ttlMs = 3_600_000,
    private readonly now: () => number = Date.now,
  ) {}

  remember(items: readonly Record<string, unknown>[]): void {
    for (const item of items) {
      if (typeof item.id !== 'string') continue;
      this.items.delete(item.id);
      this.items.set(item.id, { item, at: this.now() });
    }
    for (const [id] of this.items) {
      if (this.items.size <= this.maxItems) break;
      this.items.delete(id);
    }
  }

  lookup(id: string): Record<string, unknown> | undefined {
    const entry = this.items.get(id);
    if (!entry) return undefined;
    if (this.now() - entry.at > this.ttlMs) {
      this.items.delete(id);
      return undefined;
    }
    return entry.item;
  }
}
