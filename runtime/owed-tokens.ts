import type { SequenceSink } from './engine/engine.js';
import type { WeightsDigest } from '../protocol/weights-digest.js';

/** What keeps a tally of output tokens each device still owes (the device router, the simulator's router). */
export interface OwedTokens {
  /** `tokens` were delivered on `device`. */
  progress(device: number, tokens: number): void;
  /** A request of `weightsDigest` on `device` ended with `undelivered` of its tokens never produced. */
  finished(device: number, weightsDigest: WeightsDigest, undelivered: number): void;
}

/**
 * The one place a request's owed tokens are settled: wraps `sink` so each delivered token is paid off as it
 * comes and, at the end, whatever was never produced of the `owed` the request was routed with.
 */
export function owingSink(tally: OwedTokens, device: number, weightsDigest: WeightsDigest, owed: number, sink: SequenceSink): SequenceSink {
  return owingSinks(tally, device, weightsDigest, owed, [sink])[0]!;
}

/**
 * `owingSink` for the choices of one request (routed once, owing `owedEach` tokens per choice): every token
 * is paid off as it comes, and the request is settled once, when its last choice ends.
 */
export function owingSinks(tally: OwedTokens, device: number, weightsDigest: WeightsDigest, owedEach: number, sinks: readonly SequenceSink[]): SequenceSink[] {
  let delivered = 0;
  let open = sinks.length;
  return sinks.map((sink) => ({
    onToken: (token, logprob) => {
      delivered++;
      tally.progress(device, 1);
      sink.onToken(token, logprob);
    },
    onDone: (reason, usage, error, embedding) => {
      if (--open === 0) tally.finished(device, weightsDigest, owedEach * sinks.length - delivered);
      sink.onDone(reason, usage, error, embedding);
    },
  }));
}
