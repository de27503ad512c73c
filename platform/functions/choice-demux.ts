import { TidepoolError } from '../../protocol/errors.js';
import type { NodeEvent } from '../../protocol/node-runtime.js';

/**
 * Splits the one stream a node sends for a request's choices (a group: events tagged with `choice`) into one
 * iterator per choice, so each choice keeps its own text pipeline and invocation record. Whichever choice is
 * read pulls the stream, one event at a time; events of the others wait in their buffers (at most their
 * `max_tokens`). No choice is stranded: when the stream fails, every choice not yet ended throws that
 * failure; when it ends without a choice's `done`, that choice throws `engine_down`. A choice's `return`
 * ends its reading; the stream is ended (`return`, which cancels whatever still runs) once every choice has.
 */
export class ChoiceDemux {
  private readonly buffers: NodeEvent[][];
  /** Its `done` was dispatched: after its buffer, the choice's iterator is finished. */
  private readonly doneSeen: boolean[];
  private readonly returned: boolean[];
  private pulling: Promise<void> | undefined;
  private failure: { readonly error: unknown } | undefined;
  private sourceEnded = false;

  constructor(
    private readonly source: AsyncIterator<NodeEvent>,
    choices: number,
  ) {
    this.buffers = Array.from({ length: choices }, () => []);
    this.doneSeen = Array<boolean>(choices).fill(false);
    this.returned = Array<boolean>(choices).fill(false);
  }

  /** Waits for the stream's first event, whichever choice it is for; rejects as the stream does (a refusal). */
  async first(): Promise<void> {
    await this.pull();
    if (this.failure) throw this.failure.error;
  }

  /** Choice `index`'s events, its `done` last. */
  choice(index: number): AsyncIterator<NodeEvent> {
    return {
      next: () => this.next(index),
      return: async () => {
        this.finish(index);
        return { done: true, value: undefined };
      },
    };
  }

  private async next(index: number): Promise<IteratorResult<NodeEvent>> {
    for (;;) {
      const event = this.buffers[index]!.shift();
      if (event) return { done: false, value: event };
      if (this.doneSeen[index] || this.returned[index]) return { done: true, value: undefined };
      if (this.failure) throw this.failure.error;
      if (this.sourceEnded) throw new TidepoolError('engine_down', `the node's stream ended without the end of choice ${index}`, { retryAfterMs: 1_000 });
      await this.pull();
    }
  }

  /** One read of the stream at a time, shared by every choice waiting on it. */
  private pull(): Promise<void> {
    this.pulling ??= this.source.next().then(
      (result) => {
        this.pulling = undefined;
        if (result.done) this.sourceEnded = true;
        else this.dispatch(result.value);
      },
      (error: unknown) => {
        this.pulling = undefined;
        this.failure = { error };
        this.sourceEnded = true;
      },
    );
    return this.pulling;
  }

  /** Events of an unknown choice, or after its end (a resent end), have no reader and are dropped. */
  private dispatch(event: NodeEvent): void {
    const index = event.choice ?? 0;
    if (index >= this.buffers.length || this.doneSeen[index]) return;
    if (event.type === 'done') this.doneSeen[index] = true;
    if (!this.returned[index]) this.buffers[index]!.push(event);
  }

  private finish(index: number): void {
    if (this.returned[index]) return;
    this.returned[index] = true;
    this.buffers[index]!.length = 0;
    if (this.returned.every(Boolean)) void this.source.return?.().catch(() => undefined);
  }
}
