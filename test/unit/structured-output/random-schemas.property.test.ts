import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, it } from 'vitest';
import { compileJsonSchema } from '../../../protocol/structured-output/response-format.js';
import { StructuredOutputError } from '../../../protocol/structured-output/structured-output-error.js';
import { distanceToAccept, randomWalk, seededRandom } from './automaton-walk.js';

const ajv = new Ajv2020({ strict: false });
const utf8 = new TextDecoder('utf-8', { fatal: true });
const small = fc.integer({ min: 0, max: 4 });
const scalar = fc.oneof(
  fc.string({ maxLength: 4 }),
  fc.integer({ min: -50, max: 50 }),
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }),
  fc.boolean(),
  fc.constant(null),
);

/** Random schemas from the enforced keywords, nested a few levels. */
const schema: fc.Arbitrary<Record<string, unknown>> = fc.letrec<{ schema: Record<string, unknown> }>((tie) => ({
  schema: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.record({ type: fc.constant('string'), minLength: small, maxLength: fc.integer({ min: 0, max: 6 }) }, { requiredKeys: ['type'] }),
    fc.record(
      { type: fc.constant('integer'), minimum: fc.integer({ min: -300, max: 300 }), exclusiveMaximum: fc.integer({ min: -300, max: 300 }) },
      { requiredKeys: ['type'] },
    ),
    fc.constantFrom({ type: 'number' }, { type: 'boolean' }, { type: 'null' }, { type: ['string', 'null'] }, {}),
    fc.record({ enum: fc.array(scalar, { minLength: 1, maxLength: 4 }) }),
    fc.record({ const: scalar }),
    fc.record({ anyOf: fc.array(tie('schema'), { minLength: 1, maxLength: 3 }) }),
    fc.record(
      { type: fc.constant('array'), items: tie('schema'), minItems: small, maxItems: fc.integer({ min: 0, max: 5 }) },
      { requiredKeys: ['type', 'items'] },
    ),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), tie('schema'), { maxKeys: 4 }).chain((properties) =>
      fc.record({
        type: fc.constant('object'),
        properties: fc.constant(properties),
        required: fc.subarray(Object.keys(properties)),
        additionalProperties: fc.constantFrom(false, true),
      }),
    ),
  ),
})).schema;

describe('random schemas', () => {
  it('compile to automata whose every walk is JSON that ajv validates', () => {
    fc.assert(
      fc.property(schema, fc.integer(), (s, seed) => {
        let dfa: ReturnType<typeof compileJsonSchema>['dfa'];
        try {
          ({ dfa } = compileJsonSchema(s, 'p'));
        } catch (error) {
          // Contradictory bounds (minLength > maxLength, ...) are legitimately unsatisfiable.
          if (error instanceof StructuredOutputError && error.code === 'invalid_schema') return;
          throw error;
        }
        const validate = ajv.compile(s);
        const distance = distanceToAccept(dfa);
        const random = seededRandom(seed);
        for (let i = 0; i < 10; i++) {
          const text = utf8.decode(randomWalk(dfa, random, { distance, budget: 80 }));
          if (!validate(JSON.parse(text))) throw new Error(`${JSON.stringify(s)} generated ${text}: ${JSON.stringify(validate.errors)}`);
        }
      }),
      { numRuns: 120 },
    );
  });
});
