import type { SequenceSink } from './engine/engine.js';

/** What keeps a tally of output tokens each device still owes (the device router, the simulator's router). */
export interface OwedTokens {
  /** `tokens` were delivered on `device`. */
  progress(device: number, tokens: number): void;
  /** A request of `weightsDigest` on `device` ended with `undelivered` of its tokens never produced. */
  finished(device: number, weightsDigest: string, undelivered: number): void;
}

/**
 * The one place a request's owed tokens are settled: wraps `sink` so each delivered token is paid off as it
 * comes and, at the end, whatever was never produced of the `owed` the request was routed with.
 */
export function owingSink(tally: OwedTokens, device: number, weightsDigest: string, owed: number, sink: SequenceSink): SequenceSink {
  let delivered = 0;
  return {
    onToken: (token, logprob) => {
      delivered++;
      tally.progress(device, 1);
      sink.onToken(token, logprob);
    },
    onDone: (reason, usage, error, embedding) => {
      tally.finished(device, weightsDigest, owed - delivered);
      sink.onDone(reason, usage, error, embedding);
    },
  };
}
