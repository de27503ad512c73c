import { createHash } from 'node:crypto';
import type { CompiledAutomaton } from './compile-grammar.js';

/**
 * A bounded LRU of compiled automata (and of compile failures, so a hostile schema sent again costs a
 * lookup), keyed by a hash of what was compiled. Bounded by entries and by the automata's total states.
 */
export class AutomatonCache {
  private readonly entries = new Map<string, CompiledAutomaton | Error>();
  private totalStates = 0;

  constructor(
    readonly maxEntries = 256,
    readonly maxTotalStates = 2_000_000,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  /** The cached result for `key`, or `compile()`'s, stored; a cached failure is thrown again. */
  getOrCompile(key: string, compile: () => CompiledAutomaton): CompiledAutomaton {
    const hit = this.entries.get(key);
    if (hit !== undefined) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      if (hit instanceof Error) throw hit;
      return hit;
    }
    let result: CompiledAutomaton | Error;
    try {
      result = compile();
    } catch (error) {
      if (!(error instanceof Error) || !('code' in error)) throw error;
      result = error;
    }
    this.insert(key, result);
    if (result instanceof Error) throw result;
    return result;
  }

  private insert(key: string, value: CompiledAutomaton | Error): void {
    this.entries.set(key, value);
    this.totalStates += statesOf(value);
    for (const [oldest, old] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.totalStates <= this.maxTotalStates) break;
      if (oldest === key) break;
      this.entries.delete(oldest);
      this.totalStates -= statesOf(old);
    }
  }
}

function statesOf(value: CompiledAutomaton | Error): number {
  return value instanceof Error ? 0 : value.dfa.stateCount;
}

/** sha256 hex of the JSON of `parts`: object key order counts (it is the order properties are generated in). */
export function cacheKey(...parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex');
}
