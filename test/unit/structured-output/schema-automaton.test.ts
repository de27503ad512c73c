import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accepts, denseTable } from '../../../protocol/structured-output/byte-dfa.js';
import { compileJsonSchema, compileResponseFormat } from '../../../protocol/structured-output/response-format.js';
import { distanceToAccept, randomWalk, seededRandom } from './automaton-walk.js';
import { SCHEMA_CASES } from './schema-cases.js';

// ajv is the independent judge: it knows nothing of the automaton.
const ajv = new Ajv2020({ strict: false, validateSchema: false });
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Strings removed, the rest may only hold whitespace as the one space after `:` and `,`. */
function isSpacedStyle(text: string): boolean {
  const outside = text.replace(/"(?:[^"\\]|\\.)*"/g, '""');
  return !/\s/.test(outside.replace(/[,:] /g, '')) && !/[,:](?! )/.test(outside);
}

describe('JSON Schema automata', () => {
  for (const c of SCHEMA_CASES) {
    describe(c.name, () => {
      const { dfa } = compileJsonSchema(c.schema, 'response_format.json_schema.schema');
      const table = denseTable(dfa);
      const validate = ajv.compile(c.schema as object);

      it('accepts the hand-picked valid documents, which ajv also accepts', () => {
        for (const text of c.valid) {
          expect(validate(JSON.parse(text)), text).toBe(true);
          expect(accepts(dfa, text, table), text).toBe(true);
        }
      });

      it('rejects the hand-picked invalid documents', () => {
        for (const text of c.invalid) expect(accepts(dfa, text, table), text).toBe(false);
      });

      it('has no dead end: every state can still reach acceptance', () => {
        expect(distanceToAccept(dfa).every((d) => d < Infinity)).toBe(true);
      });

      it('generates only valid UTF-8 JSON that the schema validates, in the spaced style', () => {
        const distance = distanceToAccept(dfa);
        fc.assert(
          fc.property(fc.integer(), (seed) => {
            const text = utf8.decode(randomWalk(dfa, seededRandom(seed), { distance, budget: 120 }));
            const value = JSON.parse(text);
            if (!validate(value)) throw new Error(`ajv rejects ${text}: ${JSON.stringify(validate.errors)}`);
            if (!isSpacedStyle(text)) throw new Error(`not in the spaced style: ${text}`);
          }),
          { numRuns: 150 },
        );
      });
    });
  }

  it('json_object mode generates any object, nested at most 5 levels', () => {
    const { dfa } = compileResponseFormat({ type: 'json_object' })!;
    const distance = distanceToAccept(dfa);
    expect(distance.every((d) => d < Infinity)).toBe(true);
    expect(accepts(dfa, '{"a": [1, {"b": [["x"]]}]}')).toBe(true);
    expect(accepts(dfa, '{"a": [1, {"b": [[{}]]}]}')).toBe(false);
    expect(accepts(dfa, '[1]')).toBe(false);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const value = JSON.parse(utf8.decode(randomWalk(dfa, seededRandom(seed), { distance, budget: 200 })));
        return typeof value === 'object' && value !== null && !Array.isArray(value) && depthOf(value) <= 5;
      }),
      { numRuns: 300 },
    );
  });

  it('compact style drops the spaces', () => {
    const { dfa } = compileJsonSchema({ type: 'object', properties: { a: { type: 'array', items: { type: 'integer' } } }, required: ['a'] }, 'p', {
      style: { whitespace: 'compact', anyValueDepth: 5 },
    });
    expect(accepts(dfa, '{"a":[1,2]}')).toBe(true);
    expect(accepts(dfa, '{"a": [1, 2]}')).toBe(false);
  });
});

function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}
