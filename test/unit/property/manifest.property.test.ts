import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { NAME_PATTERN, parseManifest, parseManifestYaml, type FunctionManifest, type ManifestResult } from '../../../platform/functions/manifest.js';

// Property tests of the function.yaml parser: whatever it is given, it answers with a manifest or with
// problems that each name a field, and it never throws.

const TOP_FIELDS = ['name', 'description', 'model', 'context_length', 'defaults', 'slo', 'keep_warm_ms', 'min_warm', 'limits'];

/** Every problem reads `<field path>: <message>`; the path is a field, the key of an unknown field, or the file. */
function expectFieldProblems(result: ManifestResult): void {
  if (result.ok) return;
  expect(result.problems.length).toBeGreaterThan(0);
  for (const problem of result.problems) expect(problem).toMatch(/^[^\s].*?: \S/s);
}

const positive = fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER });
const natural = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const limit = fc.oneof(fc.constant(null), positive);

/** A valid manifest in its parsed form (every default written out), so parsing it must give it back. */
const validManifest: fc.Arbitrary<FunctionManifest> = fc
  .record({
    name: fc.stringMatching(NAME_PATTERN),
    description: fc.string({ unit: 'grapheme' }),
    model: fc.oneof(
      fc.record({ path: fc.string({ minLength: 1 }) }),
      fc.record({
        synth: fc.oneof(
          fc.record({ shape: fc.stringMatching(/^[a-z0-9][a-z0-9.-]*$/), seed: natural }),
          fc.record({
            shape: fc.stringMatching(/^[a-z0-9][a-z0-9.-]*$/),
            seed: natural,
            dtype: fc.constantFrom('f32' as const, 'f16' as const, 'bf16' as const),
          }),
        ),
      }),
    ),
    context_length: fc.oneof(fc.constant(null), positive),
    defaults: fc.record({
      max_tokens: positive,
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      top_p: fc.double({ min: Number.MIN_VALUE, max: 1, noNaN: true }),
    }),
    slo: fc.record({ ttft_ms: positive, tpot_ms: positive }),
    keep_warm_ms: natural,
    min_warm: natural,
    limits: fc.option(fc.record({ rpm: limit, tpm: limit, concurrency: limit }), { nil: undefined }),
  })
  .map((m) => {
    const { limits, ...rest } = m;
    return limits === undefined ? rest : { ...rest, limits };
  });

/** A value of the wrong type for each field, and what the parser must name. */
const wrongTypes: readonly [string, (m: Record<string, unknown>) => void][] = [
  [
    'name',
    (m) => {
      m.name = 42;
    },
  ],
  [
    'description',
    (m) => {
      m.description = ['x'];
    },
  ],
  [
    'model',
    (m) => {
      m.model = 'weights/';
    },
  ],
  [
    'model.path',
    (m) => {
      m.model = { path: 7 };
    },
  ],
  [
    'model.synth.seed',
    (m) => {
      m.model = { synth: { shape: 'tiny', seed: -1 } };
    },
  ],
  [
    'context_length',
    (m) => {
      m.context_length = '4096';
    },
  ],
  [
    'defaults',
    (m) => {
      m.defaults = 3;
    },
  ],
  [
    'defaults.temperature',
    (m) => {
      m.defaults = { temperature: Number.POSITIVE_INFINITY };
    },
  ],
  [
    'defaults.top_p',
    (m) => {
      m.defaults = { top_p: 0 };
    },
  ],
  [
    'slo.ttft_ms',
    (m) => {
      m.slo = { ttft_ms: 1.5 };
    },
  ],
  [
    'keep_warm_ms',
    (m) => {
      m.keep_warm_ms = true;
    },
  ],
  [
    'min_warm',
    (m) => {
      m.min_warm = -1;
    },
  ],
  [
    'limits.rpm',
    (m) => {
      m.limits = { rpm: 0 };
    },
  ],
];

describe('function manifest parser (property)', () => {
  it('answers any JSON value with a manifest or field-named problems, never an exception', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => expectFieldProblems(parseManifest(value))),
      { numRuns: 300 },
    );
  });

  it('answers objects with manifest-like fields of arbitrary values the same way', () => {
    const fieldValues = fc.dictionary(fc.constantFrom(...TOP_FIELDS, 'extra', '__proto__'), fc.anything({ maxDepth: 3 }));
    fc.assert(
      fc.property(fieldValues, (value) => expectFieldProblems(parseManifest(value))),
      { numRuns: 300 },
    );
  });

  it('answers any text as YAML with a manifest or problems, never an exception', () => {
    const texts = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      fc.jsonValue().map((v) => stringify(v)),
      fc
        .array(fc.constantFrom('name: a\n', 'model:\n', '  path: .\n', '- ', '[', ']', '{', '}', '&x ', '*x', '!!binary ', '? ', ': ', '"', '\t'), {
          maxLength: 40,
        })
        .map((parts) => parts.join('')),
    );
    fc.assert(
      fc.property(texts, (text) => expectFieldProblems(parseManifestYaml(text))),
      { numRuns: 150 },
    );
  });

  it('gives back a valid manifest unchanged, from an object and from its YAML', () => {
    fc.assert(
      fc.property(validManifest, (manifest) => {
        const direct = parseManifest(manifest);
        expect(direct).toEqual({ ok: true, manifest });
        expect(parseManifestYaml(stringify(manifest))).toEqual({ ok: true, manifest });
        expect(parseManifest(JSON.parse(JSON.stringify(manifest)))).toEqual({ ok: true, manifest });
      }),
      { numRuns: 200 },
    );
  });

  it('names an unknown field, at the top level and inside a block', () => {
    const unknownKey = fc.stringMatching(/^[a-z_][a-z0-9_]{0,11}$/).filter((k) => !TOP_FIELDS.includes(k));
    fc.assert(
      fc.property(validManifest, unknownKey, fc.jsonValue(), (manifest, key, value) => {
        const top = parseManifest({ ...manifest, [key]: value });
        expect(top.ok).toBe(false);
        if (!top.ok) expect(top.problems).toContain(`${key}: is not a known field`);
        const nested = parseManifest({ ...manifest, slo: { ...manifest.slo, [key]: value } });
        expect(nested.ok).toBe(false);
        if (!nested.ok) expect(nested.problems).toContain(`slo.${key}: is not a known field`);
      }),
      { numRuns: 100 },
    );
  });

  it('quotes an unknown key that is empty or not a plain word, so the problem still names it', () => {
    // Counterexample of the first property: `{"": 0}` was reported as ": is not a known field".
    const result = parseManifest({ name: 'a', model: { path: '.' }, '': 0, 'max tokens': 1, slo: { 'a:b': 1 } });
    expect(result).toEqual({ ok: false, problems: ['"": is not a known field', '"max tokens": is not a known field', 'slo."a:b": is not a known field'] });
  });

  it('names the field that has the wrong type', () => {
    fc.assert(
      fc.property(validManifest, fc.constantFrom(...wrongTypes), (manifest, [field, spoil]) => {
        const copy: Record<string, unknown> = structuredClone({ ...manifest });
        spoil(copy);
        const result = parseManifest(copy);
        expect(result.ok).toBe(false);
        if (!result.ok)
          expect(
            result.problems.some((p) => p.startsWith(`${field}: `)),
            result.problems.join('; '),
          ).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('refuses deeply nested YAML with a problem instead of overflowing the stack', () => {
    // yaml's composer recurses once per level: in one process, overflowing it at 1,000, 3,000 and then
    // 10,000 levels aborted node (V8 out of memory), so these depths are the regression test.
    for (const depth of [1000, 3000, 10_000]) {
      for (const text of [`name: ${'['.repeat(depth)}${']'.repeat(depth)}`, `name:\n${'- '.repeat(depth)}x`]) {
        expect(parseManifestYaml(text)).toEqual({ ok: false, problems: ['function.yaml: invalid YAML: collections nest deeper than 32 levels'] });
      }
    }
    expect(parseManifestYaml('name: a\nmodel: {synth: {shape: tiny, seed: 1}}\nlimits: {rpm: 5}').ok).toBe(true);
  });
});
