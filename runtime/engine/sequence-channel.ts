import { toWireError } from '../../protocol/errors.js';
import type { NodeEvent } from '../../protocol/node-runtime.js';
import type { SequenceSink } from './engine.js';

/**
 * Turns the `SequenceSink`s of one request's choices (push, called by the engine client or scheduler) into
 * events pulled one at a time by an async iterator, in the order they come. With several choices every event
 * carries its `choice` index. Tokens are buffered without bound: a sequence produces at most `maxTokens` of
 * them. Calls on a choice's sink after its `onDone` are ignored, so a late duplicate end cannot reorder it.
 */
export class SequenceChannel {
  private readonly buffer: NodeEvent[] = [];
  private waiter: ((event: NodeEvent) => void) | undefined;
  private readonly ended: boolean[];
  private open: number;
  /** One sink per choice, choice 0 first. */
  readonly sinks: readonly SequenceSink[];

  constructor(choices = 1) {
    this.ended = Array<boolean>(choices).fill(false);
    this.open = choices;
    this.sinks = this.ended.map((_, choice) => this.sinkFor(choice, choices > 1 ? { choice } : {}));
  }

  /** Choice 0's sink: the only one of a single-choice request. */
  get sink(): SequenceSink {
    return this.sinks[0]!;
  }

  /** True once every choice's end has been received (some may still be buffered). */
  get isEnded(): boolean {
    return this.open === 0;
  }

  /** True once every end has been received and read: the event `next` returned last was the final one. */
  get isDrained(): boolean {
    return this.open === 0 && this.buffer.length === 0;
  }

  /** True once choice `choice`'s end has been received. */
  isChoiceEnded(choice: number): boolean {
    return this.ended[choice] ?? true;
  }

  /** The next event; waits for one when the buffer is empty. */
  next(): Promise<NodeEvent> {
    const event = this.buffer.shift();
    if (event) return Promise.resolve(event);
    return new Promise((resolve) => (this.waiter = resolve));
  }

  private sinkFor(choice: number, tag: { readonly choice?: number }): SequenceSink {
    return {
      onToken: (token, logprob) => {
        if (!this.ended[choice]) this.push(logprob === undefined ? { type: 'token', token, ...tag } : { type: 'token', token, logprob, ...tag });
      },
      onDone: (reason, usage, error, embedding) => {
        if (this.ended[choice]) return;
        this.ended[choice] = true;
        this.open--;
        this.push({
          type: 'done',
          reason,
          promptTokens: usage.promptTokens,
          completionTokens: usage.completionTokens,
          ...tag,
          ...(error === undefined ? {} : { error: toWireError(error) }),
          ...(embedding === undefined ? {} : { embedding }),
        });
      },
    };
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
