import type { WireError } from './errors.js';
import { type DoneReason, type NodeEvent, type NodeGenerateRequest, choiceCount } from './node-runtime.js';

/**
 * What a reader of one generation's stream has seen of each choice (tokens, whether it ended), so a hop that
 * cannot go on (a node lost mid-stream, a runtime failure, a cancel before anything ran) ends every choice
 * still open with a `done` of its own: no choice of a group is ever left without its end.
 */
export class ChoiceProgress {
  private readonly tokens: number[];
  private readonly ended: boolean[];
  private open: number;

  constructor(private readonly request: Pick<NodeGenerateRequest, 'seeds' | 'promptTokens'>) {
    const choices = choiceCount(request);
    this.tokens = Array<number>(choices).fill(0);
    this.ended = Array<boolean>(choices).fill(false);
    this.open = choices;
  }

  /** Notes an event read from the stream. */
  see(event: NodeEvent): void {
    const choice = event.choice ?? 0;
    if (this.ended[choice] !== false) return;
    if (event.type === 'token') this.tokens[choice]!++;
    else {
      this.ended[choice] = true;
      this.open--;
    }
  }

  /** Every choice has ended. */
  get done(): boolean {
    return this.open === 0;
  }

  /** Tokens seen so far, over every choice. */
  get totalTokens(): number {
    return this.tokens.reduce((a, b) => a + b, 0);
  }

  /** A `done` for each choice still open (with its `choice` in a group), each counting its tokens seen; marks them ended. */
  endOpen(reason: DoneReason, error?: WireError): NodeEvent[] {
    const group = this.ended.length > 1;
    const out: NodeEvent[] = [];
    this.ended.forEach((ended, choice) => {
      if (ended) return;
      const done = { type: 'done', reason, promptTokens: this.request.promptTokens.length, completionTokens: this.tokens[choice]! } as const;
      out.push({ ...done, ...(group ? { choice } : {}), ...(error === undefined ? {} : { error }) });
      this.ended[choice] = true;
    });
    this.open = 0;
    return out;
  }
}
