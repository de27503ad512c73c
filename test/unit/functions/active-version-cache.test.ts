import { describe, expect, it } from 'vitest';
import { createActiveVersionCache } from '../../../platform/functions/active-version-cache.js';

describe('active version cache', () => {
  it('serves the last good answer while reloads fail, within staleIfErrorMs', async () => {
    let clock = 0;
    let failing = false;
    let loads = 0;
    const cache = createActiveVersionCache({
      load: async (name) => {
        loads++;
        if (failing) throw new Error('database restarting');
        return `${name}@v1`;
      },
      ttlMs: 10,
      staleIfErrorMs: 100,
      now: () => clock,
    });
    expect(await cache.get('fn')).toBe('fn@v1');
    failing = true;
    clock = 50;
    expect(await cache.get('fn')).toBe('fn@v1');
    expect(loads).toBe(2);
    clock = 200;
    await expect(cache.get('fn')).rejects.toThrow('database restarting');
    await expect(cache.get('never-loaded')).rejects.toThrow('database restarting');
  });

  it('does not serve a stale answer after an invalidation', async () => {
    let failing = false;
    const cache = createActiveVersionCache({
      load: async () => {
        if (failing) throw new Error('down');
        return 'v1';
      },
      ttlMs: 0,
    });
    expect(await cache.get('fn')).toBe('v1');
    cache.invalidate('fn');
    failing = true;
    await expect(cache.get('fn')).rejects.toThrow('down');
  });
});
