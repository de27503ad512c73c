import { setMaxListeners } from 'node:events';
import { TidepoolError } from '../../protocol/errors.js';
import { MAX_GROUP_CHOICES } from '../../protocol/node-runtime.js';
import type { SamplingRequest } from '../../protocol/sampling.js';
import type { InvocationCaller } from '../functions/invoke-params.js';
import type { Generation, GenerationEvent, Invoker } from '../functions/invoker.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';

/** At most this many choices per request (`n` times the prompts of a batched completion), as vLLM's default. */
export const MAX_CHOICES = 128;
/** `n`, as OpenAI allows it for the models Tidepool serves. */
export const MAX_N = 16;

/** One choice to generate: its prompt and its sampling (its own seed). */
export interface ChoiceSpec {
  readonly promptTokens: readonly number[];
  readonly sampling: SamplingRequest;
  /** Recorded with the invocation (`params`). */
  readonly features: Readonly<Record<string, unknown>>;
}

/** `n`: absent or null is 1; otherwise an integer in [1, 16]. */
export function readN(body: Readonly<Record<string, unknown>>): number {
  const n = body.n;
  if (n === undefined || n === null) return 1;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_N) {
    throw new TidepoolError('invalid_parameter', `n: must be an integer in [1, ${MAX_N}]`, { param: 'n' });
  }
  return n;
}

/**
 * The `n` samplings of one prompt: choice i gets seed (seed + i) mod 2^31, so each is sampled independently
 * and a request with the same seed gives the same choices again; without a seed one is drawn for the request.
 */
export function choiceSamplings(sampling: SamplingRequest, n: number, randomSeed: () => number = () => Math.floor(Math.random() * 2 ** 31)): SamplingRequest[] {
  const base = sampling.seed ?? randomSeed();
  return Array.from({ length: n }, (_, i) => ({ ...sampling, seed: (base + i) % 2 ** 31 }));
}

/** What every choice of one request shares. */
export interface ChoicesRequest {
  readonly arrivalMs: number;
  readonly caller?: InvocationCaller;
  /** The response id: choice 0's invocation id, and `<id>-<i>` choice i's; absent, each gets a UUID. */
  readonly responseId?: string;
}

/** The invocation id of choice `index` of a response (docs/api.md: a client finds each choice in the records). */
export function choiceInvocationId(responseId: string | undefined, index: number): string | undefined {
  if (responseId === undefined) return undefined;
  return index === 0 ? responseId : `${responseId}-${index}`;
}

/**
 * Starts every choice as its own generation (its own invocation record, quota charge and engine sequence).
 * Consecutive choices of one prompt sampled alike but for the seed (`n`'s choices, `best_of`'s candidates)
 * go to the node as one group of up to 16, whose prompt is prefilled once (docs/api.md, n and batches).
 * All or nothing: when one group is refused, the ones already admitted are cancelled (and recorded as such)
 * and the refusal is thrown, before anything reaches the client.
 */
export async function startChoices(
  invoker: Invoker,
  fn: ResolvedFunction,
  specs: readonly ChoiceSpec[],
  request: ChoicesRequest,
  signal: AbortSignal,
): Promise<Generation[]> {
  if (specs.length > MAX_CHOICES) {
    throw new TidepoolError('invalid_parameter', `n times the number of prompts is ${specs.length}; at most ${MAX_CHOICES} choices per request`, {
      param: 'n',
    });
  }
  const cancel = new AbortController();
  // Every choice's generation listens to this one signal.
  setMaxListeners(specs.length + 10, cancel.signal);
  const onAbort = (): void => cancel.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const params = specs.map((spec, index) => {
    const id = choiceInvocationId(request.responseId, index);
    const p = { promptTokens: spec.promptTokens, sampling: spec.sampling, features: spec.features, arrivalMs: request.arrivalMs, caller: request.caller };
    return id === undefined ? p : { ...p, id };
  });
  const started = await Promise.allSettled(choiceGroups(specs).map(({ from, to }) => invoker.startGroup(fn, params.slice(from, to), cancel.signal)));
  const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (!failed) return started.flatMap((s) => (s as PromiseFulfilledResult<Generation[]>).value);
  signal.removeEventListener('abort', onAbort);
  cancel.abort();
  await Promise.all(started.flatMap((s) => (s.status === 'fulfilled' ? s.value.map(drain) : [])));
  throw failed.reason;
}

/**
 * Runs of consecutive specs that may share one prefill: the same prompt and the same sampling but the seed,
 * at most `MAX_GROUP_CHOICES` each. An embedding's inputs never group (each is its own prompt).
 */
export function choiceGroups(specs: readonly ChoiceSpec[]): { readonly from: number; readonly to: number }[] {
  const groups: { from: number; to: number }[] = [];
  specs.forEach((spec, i) => {
    const last = groups.at(-1);
    if (last && i - last.from < MAX_GROUP_CHOICES && sameButSeed(specs[last.from]!, spec)) last.to = i + 1;
    else groups.push({ from: i, to: i + 1 });
  });
  return groups;
}

/** Same prompt array and the same value in every sampling field but the seed (`choiceSamplings` shares them). */
function sameButSeed(a: ChoiceSpec, b: ChoiceSpec): boolean {
  if (a.promptTokens !== b.promptTokens || a.sampling.embed || b.sampling.embed) return false;
  const keys = new Set([...Object.keys(a.sampling), ...Object.keys(b.sampling)]) as Set<keyof SamplingRequest>;
  for (const key of keys) if (key !== 'seed' && a.sampling[key] !== b.sampling[key]) return false;
  return true;
}

/** Reads a cancelled generation to its end, so its record is written and its quota settled. */
async function drain(generation: Generation): Promise<void> {
  try {
    for await (const _ of generation);
  } catch {
    // Its failure is recorded by the generation itself; the request already fails for another reason.
  }
}

/** One event of one choice, as `mergeChoices` interleaves them. */
export interface ChoiceEvent {
  readonly index: number;
  readonly event: GenerationEvent;
}

/**
 * The events of several generations in the order they arrive, each tagged with its choice index. Ending
 * early (the client left, an error) ends every generation, which cancels its sequence and records it.
 */
export async function* mergeChoices(generations: readonly Generation[]): AsyncGenerator<ChoiceEvent> {
  const iterators = generations.map((g) => g[Symbol.asyncIterator]());
  const pending = new Map<number, Promise<{ index: number; result: IteratorResult<GenerationEvent> }>>();
  const pull = (index: number): void => {
    pending.set(
      index,
      iterators[index]!.next().then((result) => ({ index, result })),
    );
  };
  for (let index = 0; index < iterators.length; index++) pull(index);
  try {
    while (pending.size > 0) {
      const { index, result } = await Promise.race(pending.values());
      if (result.done) {
        pending.delete(index);
        continue;
      }
      pull(index);
      yield { index, event: result.value };
    }
  } finally {
    // Reads still in flight settle when their generation ends; their outcome has no reader now.
    for (const read of pending.values()) read.catch(() => undefined);
    await Promise.all(iterators.map((it) => it.return?.(undefined).catch(() => undefined)));
  }
}
