import type { DoneReason, SequenceSink } from './engine.js';

export type SequenceEvent =
  | { readonly type: 'token'; readonly token: number }
  | {
      readonly type: 'done';
      readonly reason: DoneReason;
      readonly promptTokens: number;
      readonly completionTokens: number;
      readonly message?: string;
    };

/**
 * Turns a `SequenceSink` (push, called by the engine client or scheduler) into events pulled one at a time
 * by an async iterator. Tokens are buffered without bound: a sequence produces at most `maxTokens` of them.
 * Calls after `onDone` are ignored, so a late duplicate end cannot reorder the stream.
 */
export class SequenceChannel {
  private readonly buffer: SequenceEvent[] = [];
  private waiter: ((event: SequenceEvent) => void) | undefined;
  private ended = false;

  readonly sink: SequenceSink = {
    onToken: (token) => {
      if (!this.ended) this.push({ type: 'token', token });
    },
    onDone: (reason, usage, message) => {
      if (this.ended) return;
      this.ended = true;
      this.push({ type: 'done', reason, promptTokens: usage.promptTokens, completionTokens: usage.completionTokens, ...(message === undefined ? {} : { message }) });
    },
  };

  /** True once the end has been received (it may still be buffered). */
  get isEnded(): boolean {
    return this.ended;
  }

  /** The next event; waits for one when the buffer is empty. */
  next(): Promise<SequenceEvent> {
    const event = this.buffer.shift();
    if (event) return Promise.resolve(event);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private push(event: SequenceEvent): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter(event);
    } else {
      this.buffer.push(event);
    }
  }
}
