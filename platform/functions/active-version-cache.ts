/**
 * Caches the hot-path read "active version of function X". Entries expire after `ttlMs` (so replicas see
 * each other's deploys within that bound) and are dropped at once on deploy and delete in this process.
 * Concurrent misses for one name share a single load.
 */
export interface ActiveVersionCache<T> {
  get(name: string): Promise<T | undefined>;
  invalidate(name: string): void;
  clear(): void;
}

export function createActiveVersionCache<T>(options: {
  readonly load: (name: string) => Promise<T | undefined>;
  readonly ttlMs?: number;
  readonly now?: () => number;
}): ActiveVersionCache<T> {
  const ttlMs = options.ttlMs ?? 2_000;
  const now = options.now ?? Date.now;
  const entries = new Map<string, { readonly value: Promise<T | undefined>; readonly expires: number }>();

  return {
    get(name) {
      const hit = entries.get(name);
      if (hit && hit.expires > now()) return hit.value;
      const value = options.load(name);
      const entry = { value, expires: now() + ttlMs };
      entries.set(name, entry);
      // A failed load is not cached. An invalidation deletes the entry, so a load racing it is not kept either.
      value.catch(() => {
        if (entries.get(name) === entry) entries.delete(name);
      });
      return value;
    },
    invalidate(name) {
      entries.delete(name);
    },
    clear() {
      entries.clear();
    },
  };
}
