import { describe, expect, it } from 'vitest';
import { parseManifest, parseManifestYaml } from '../../../platform/functions/manifest.js';

const base = { name: 'chat', model: { path: '.' } };

describe('manifest limits block', () => {
  it('reads rpm, tpm and concurrency; a missing field is unlimited and a missing block is absent', () => {
    const yaml = 'name: chat\nmodel: {path: .}\nlimits:\n  rpm: 600\n  concurrency: 8\n';
    const result = parseManifestYaml(yaml);
    expect(result.ok && result.manifest.limits).toEqual({ rpm: 600, tpm: null, concurrency: 8 });
    const plain = parseManifest(base);
    expect(plain.ok && 'limits' in plain.manifest).toBe(false);
  });

  it.each([
    [{ rpm: -1 }, 'limits.rpm: must be a positive integer'],
    [{ tpm: 0 }, 'limits.tpm: must be a positive integer'],
    [{ concurrency: 1.5 }, 'limits.concurrency: must be a positive integer'],
    [{ rpm: '60' }, 'limits.rpm: must be a positive integer'],
    [{ burst: 3 }, 'limits.burst: is not a known field'],
  ])('refuses limits %j naming the field', (limits, problem) => {
    const result = parseManifest({ ...base, limits });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.problems).toEqual([problem]);
  });

  it('reports every bad limit at once, and a non-mapping block', () => {
    const result = parseManifest({ ...base, limits: { rpm: -5, tpm: 2.5, concurrency: 0 } });
    expect(!result.ok && result.problems).toEqual([
      'limits.rpm: must be a positive integer',
      'limits.tpm: must be a positive integer',
      'limits.concurrency: must be a positive integer',
    ]);
    const scalar = parseManifest({ ...base, limits: 5 });
    expect(!scalar.ok && scalar.problems).toEqual(['limits: must be a mapping']);
  });
});
