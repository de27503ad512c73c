import { toWireError } from '../../protocol/errors.js';
import type { NodeEvent } from '../../protocol/node-runtime.js';
import type { SequenceSink } from './engine.js';

/**
 * Turns a `SequenceSink` (push, called by the engine client or scheduler) into events pulled one at a time
 * by an async iterator. Tokens are buffered without bound: a sequence produces at most `maxTokens` of them.
 * Calls after `onDone` are ignored, so a late duplicate end cannot reorder the stream.
 */
export class SequenceChannel {
  private readonly buffer: NodeEvent[] = [];
  private waiter: ((event: NodeEvent) => void) | undefined;
  private ended = false;

  readonly sink: SequenceSink = {
    onToken: (token, logprob) => {
      if (!this.ended) this.push(logprob === undefined ? { type: 'token', token } : { type: 'token', token, logprob });
    },
    onDone: (reason, usage, error, embedding) => {
      if (this.ended) return;
      this.ended = true;
      this.push({
        type: 'done',
        reason,
        promptTokens: usage.promptTokens,
        completionTokens: usage.completionTokens,
        ...(error === undefined ? {} : { error: toWireError(error) }),
        ...(embedding === undefined ? {} : { embedding }),
      });
    },
  };

  /** True once the end has been received (it may still be buffered). */
  get isEnded(): boolean {
    return this.ended;
  }

  /** The next event; waits for one when the buffer is empty. */
  next(): Promise<NodeEvent> {
    const event = this.buffer.shift();
    if (event) return Promise.resolve(event);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private push(event: NodeEvent): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter(event);
    } else {
      this.buffer.push(event);
    }
  }
}
