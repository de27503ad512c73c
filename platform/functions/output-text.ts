import type { TokenLogprob } from '../../protocol/node-runtime.js';
import type { SamplingParams } from '../../protocol/sampling.js';
import { StopFilter } from './stop-filter.js';
import type { FunctionTokenizer } from './resolved-function.js';

/** A generated token with its log-probability and best alternatives ([id, logprob], most likely first). */
export interface LoggedToken {
  readonly id: number;
  readonly logprob: number;
  readonly top: readonly (readonly [number, number])[];
}

/** What one step of the pipeline lets out: text, whether a stop string ended it, the tokens it covers (logprobs only). */
export interface OutputPiece {
  readonly text: string;
  readonly stopped: boolean;
  readonly tokens: readonly LoggedToken[];
}

/**
 * A generation's text, token by token: ids → text (whole characters only) → stop strings cut. What never
 * reaches the text: end-of-sequence ids, and a `stop_token_ids` id that ended the sequence unless
 * `include_stop_str_in_output` (vLLM's rule). Stop strings are looked for once `min_tokens` are out, as
 * vLLM does. With `logprobs`, each piece carries the tokens consumed since the last piece that had text, so
 * a streamed chunk's logprobs cover the tokens behind its text.
 */
export class OutputText {
  private readonly decoder: ReturnType<FunctionTokenizer['createDecoder']>;
  private readonly stop: StopFilter;
  private readonly eos: ReadonlySet<number>;
  private readonly stopIds: ReadonlySet<number>;
  private pending: LoggedToken[] = [];
  private produced = 0;

  constructor(
    tokenizer: FunctionTokenizer,
    private readonly sampling: SamplingParams,
  ) {
    this.decoder = tokenizer.createDecoder();
    this.stop = new StopFilter(sampling.stop, sampling.include_stop_str_in_output);
    this.eos = new Set(tokenizer.stopTokenIds);
    this.stopIds = new Set(sampling.include_stop_str_in_output ? [] : sampling.stop_token_ids);
  }

  token(id: number, logprob?: TokenLogprob): OutputPiece {
    this.produced++;
    if (logprob && !this.eos.has(id)) this.pending.push({ id, logprob: logprob.logprob, top: logprob.top });
    if (this.eos.has(id) || this.stopIds.has(id)) return this.piece('', false);
    const cut = this.stop.push(this.decoder.push(id), this.produced >= this.sampling.min_tokens);
    return this.piece(cut.text, cut.stopped);
  }

  /** The sequence ended: what the decoder and the stop filter still held. */
  end(): OutputPiece {
    const tail = this.stop.push(this.decoder.flush());
    const tokens = this.pending;
    this.pending = [];
    return { text: tail.text + (tail.stopped ? '' : this.stop.flush()), stopped: tail.stopped, tokens };
  }

  private piece(text: string, stopped: boolean): OutputPiece {
    if (text === '' && !stopped) return { text, stopped, tokens: [] };
    const tokens = this.pending;
    this.pending = [];
    return { text, stopped, tokens };
  }
}
