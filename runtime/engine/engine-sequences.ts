/**
 * The sequences live on one engine connection and the decoding of their events: `step` frames become
 * tokens on each sequence's sink, a `done` frame ends it with its reason, usage and coded error, and a
 * dropped connection ends every accepted one with `engine_down`. Apart from the client (engine-client.ts),
 * which owns the socket and the command/reply pairing; this part owns what the engine streams back.
 */
import type { DoneReason, SequenceSink } from './engine.js';
import { engineError, sequenceError, stepItemLogprob, type WireMessage } from './engine-wire.js';

interface SequenceState {
  readonly sink: SequenceSink;
  readonly promptTokens: number;
  completionTokens: number;
  /** Until the engine accepts `add`, a failure rejects the `add` promise instead of ending the sink. */
  accepted: boolean;
}

const DONE_REASONS: readonly DoneReason[] = ['stop', 'length', 'cancelled', 'error'];

export class LiveSequences {
  private readonly sequences = new Map<number, SequenceState>();

  /** The first of `ids` already live on this connection, if any. */
  firstLive(ids: readonly number[]): number | undefined {
    return ids.find((id) => this.sequences.has(id));
  }

  /**
   * Registers one sequence per id before its `add` is sent (events may follow the reply at once). Returns a
   * handle: `accept()` once the engine took them, `drop()` when it refused, which removes only these.
   */
  register(ids: readonly number[], sinks: readonly SequenceSink[], promptTokens: number): { accept(): void; drop(): void } {
    const states = sinks.map((sink): SequenceState => ({ sink, promptTokens, completionTokens: 0, accepted: false }));
    ids.forEach((id, i) => {
      this.sequences.set(id, states[i]!);
    });
    return {
      accept: () => {
        for (const state of states) state.accepted = true;
      },
      drop: () => {
        ids.forEach((id, i) => {
          if (this.sequences.get(id) === states[i]) this.sequences.delete(id);
        });
      },
    };
  }

  onStep(message: WireMessage): void {
    const tokens: readonly unknown[] = Array.isArray(message.tokens) ? message.tokens : [];
    for (const item of tokens) {
      if (!Array.isArray(item)) continue;
      const state = this.sequences.get(Number(item[0]));
      if (!state) continue;
      state.completionTokens++;
      state.sink.onToken(Number(item[1]), stepItemLogprob(item));
    }
  }

  onDone(message: WireMessage): void {
    const seq = Number(message.seq);
    const state = this.sequences.get(seq);
    if (!state) return;
    this.sequences.delete(seq);
    const usage = {
      promptTokens: Number(message.prompt_tokens ?? state.promptTokens),
      completionTokens: Number(message.completion_tokens ?? state.completionTokens),
    };
    const reason = DONE_REASONS.includes(message.reason as DoneReason) ? (message.reason as DoneReason) : 'error';
    const embedding = Array.isArray(message.embedding) ? message.embedding.map(Number) : undefined;
    state.sink.onDone(reason, usage, reason === 'error' ? sequenceError(message) : undefined, embedding);
  }

  /** The connection dropped: every sequence the engine accepted ends with `engine_down` and `message`. */
  endAll(message: string): void {
    const live = [...this.sequences.values()].filter((state) => state.accepted);
    this.sequences.clear();
    for (const state of live) {
      state.sink.onDone('error', { promptTokens: state.promptTokens, completionTokens: state.completionTokens }, engineError('engine_down', message));
    }
  }
}
