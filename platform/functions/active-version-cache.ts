/**
 * Caches the hot-path read "active version of function X". Entries expire after `ttlMs` (so replicas see
 * each other's deploys within that bound) and are dropped at once on deploy and delete in this process.
 * Concurrent misses for one name share a single load. When a reload fails (database restarting) and the
 * name was loaded before, the last good answer is served for up to `staleIfErrorMs`, so invocations of known
 * functions go on through a short database outage; a deploy or delete in this process still drops it.
 */
export interface ActiveVersionCache<T> {
  get(name: string): Promise<T | undefined>;
  invalidate(name: string): void;
  clear(): void;
}

export function createActiveVersionCache<T>(options: {
  readonly load: (name: string) => Promise<T | undefined>;
  readonly ttlMs?: number;
  /** How long a loaded answer may stand in for failing reloads; default 10 minutes. */
  readonly staleIfErrorMs?: number;
  readonly now?: () => number;
}): ActiveVersionCache<T> {
  const ttlMs = options.ttlMs ?? 2_000;
  const staleIfErrorMs = options.staleIfErrorMs ?? 10 * 60_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { readonly value: Promise<T | undefined>; readonly expires: number }>();
  const lastGood = new Map<string, { readonly value: T | undefined; readonly at: number }>();

  return {
    get(name) {
      const hit = entries.get(name);
      if (hit && hit.expires > now()) return hit.value;
      const loaded = options.load(name);
      const value = loaded.then(
        (result) => {
          if (entries.get(name) === entry) lastGood.set(name, { value: result, at: now() });
          return result;
        },
        (error: unknown) => {
          const stale = lastGood.get(name);
          if (stale && now() - stale.at <= staleIfErrorMs) return stale.value;
          throw error;
        },
      );
      const entry = { value, expires: now() + ttlMs };
      entries.set(name, entry);
      // A failed load is not cached. An invalidation deletes the entry, so a load racing it is not kept either.
      loaded.catch(() => {
        if (entries.get(name) === entry) entries.delete(name);
      });
      return value;
    },
    invalidate(name) {
      entries.delete(name);
      lastGood.delete(name);
    },
    clear() {
      entries.clear();
      lastGood.clear();
    },
  };
}
