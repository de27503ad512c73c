import { describe, expect, it } from 'vitest';
import { compileJsonSchema, compileResponseFormat } from '../../../protocol/structured-output/response-format.js';
import { StructuredOutputError } from '../../../protocol/structured-output/structured-output-error.js';

const PARAM = 'response_format.json_schema.schema';

function refusal(schema: unknown): StructuredOutputError {
  try {
    compileJsonSchema(schema, PARAM);
  } catch (error) {
    if (error instanceof StructuredOutputError) return error;
    throw error;
  }
  throw new Error(`compiled: ${JSON.stringify(schema)}`);
}

describe('schemas the compiler refuses', () => {
  it.each([
    [{ type: 'string', pattern: '^a+$' }, /unsupported JSON Schema keyword "pattern" at #\/pattern/],
    [{ type: 'object', properties: { when: { type: 'string', format: 'date-time' } } }, /"format" at #\/properties\/when\/format/],
    [{ type: 'object', properties: { 'a/b': { not: {} } } }, /"not" at #\/properties\/a~1b\/not/],
    [{ oneOf: [{ type: 'string' }] }, /"oneOf" at #\/oneOf/],
    [{ type: 'object', minProperties: 1 }, /"minProperties"/],
    [{ type: 'array', uniqueItems: true }, /#\/uniqueItems: "uniqueItems": true cannot be enforced/],
    [{ type: 'number', minimum: 0 }, /#\/minimum: "minimum" is supported on "type": "integer" only/],
    [{ allOf: [{ type: 'string' }, { maxLength: 3 }] }, /#\/allOf: allOf with more than one schema/],
    [{ type: 'string', enum: ['a'], maxLength: 3 }, /"enum" together with "maxLength"/],
    [{ anyOf: [{ type: 'string' }], type: 'string' }, /"anyOf" together with "type"/],
    [{ type: 'object', properties: { a: {} }, additionalProperties: { type: 'string' } }, /additionalProperties beside properties/],
    [{ type: 'object', properties: { a: {} }, required: ['b'] }, /required names "b", which is not in properties/],
    [{ $ref: 'https://example.com/schema.json' }, /only local JSON pointers/],
    [{ type: 'array', items: [{ type: 'string' }] }, /use prefixItems/],
  ])('refuses %j as unsupported, naming the keyword and where', (schema, message) => {
    const error = refusal(schema);
    expect(error.code).toBe('unsupported_schema');
    expect(error.param).toBe(PARAM);
    expect(error.message).toMatch(message);
  });

  it('refuses recursive schemas, through $defs or the root', () => {
    const tree = { $defs: { node: { type: 'object', properties: { children: { type: 'array', items: { $ref: '#/$defs/node' } } } } }, $ref: '#/$defs/node' };
    expect(refusal(tree).message).toMatch(/at #\/\$defs\/node\/properties\/children\/items\/\$ref: recursive schema/);
    expect(refusal({ type: 'object', properties: { next: { anyOf: [{ $ref: '#' }, { type: 'null' }] } } }).code).toBe('unsupported_schema');
  });

  it.each([
    [{ type: 'strng' }, /#\/type: type must be one of/],
    [{ type: 'string', maxLength: -1 }, /#\/maxLength: maxLength must be a non-negative integer/],
    [{ type: 'integer', minimum: '3' }, /#\/minimum: minimum must be a number/],
    [{ type: 'integer', exclusiveMinimum: true }, /draft-04 boolean form/],
    [{ $ref: '#/$defs/missing' }, /#\/\$ref: \$ref "#\/\$defs\/missing" points to nothing/],
    [{ type: 'object', required: 'a' }, /required must be an array/],
    [{ anyOf: [] }, /anyOf must be a non-empty array/],
    [42, /a schema must be an object or a boolean/],
    [{ type: 'string', minLength: 3, maxLength: 2 }, /unsatisfiable/],
    [{ type: 'object', properties: { a: false }, required: ['a'] }, /unsatisfiable/],
    [{ enum: [] }, /unsatisfiable/],
  ])('refuses %j as invalid', (schema, message) => {
    const error = refusal(schema);
    expect(error.code).toBe('invalid_schema');
    expect(error.message).toMatch(message);
  });

  it('names the response_format field when its shape is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [{ type: 'xml' }, /response_format.type: must be "text", "json_object" or "json_schema"/],
      [{ type: 'json_schema' }, /response_format.json_schema: must be an object/],
      [{ type: 'json_schema', json_schema: { schema: {} } }, /response_format.json_schema.name: must be 1-64/],
      [{ type: 'json_schema', json_schema: { name: 'x', strict: 'yes' } }, /response_format.json_schema.strict: must be a boolean/],
    ];
    for (const [format, message] of cases) {
      expect(() => compileResponseFormat(format)).toThrow(message);
      try {
        compileResponseFormat(format);
      } catch (error) {
        expect((error as StructuredOutputError).code).toBe('invalid_parameter');
      }
    }
    expect(compileResponseFormat({ type: 'text' })).toBeUndefined();
  });
});

describe('hostile schemas fail fast with schema_too_large', () => {
  const deep = (levels: number): unknown => {
    let schema: unknown = { type: 'string' };
    for (let i = 0; i < levels; i++) schema = { type: 'array', items: schema };
    return schema;
  };

  it.each([
    ['a 100,000-level nesting', deep(100_000), /nested deeper than 64 levels/],
    ['30,000 enum values', { enum: Array.from({ length: 30_000 }, (_, i) => i) }, /more than 20000 JSON values/],
    ['a huge maxLength', { type: 'string', maxLength: 1_000_000_000 }, /would need more than 200000 NFA states/],
    [
      'nested maxItems that multiply',
      { type: 'array', maxItems: 100, items: { type: 'array', maxItems: 100, items: { type: 'array', maxItems: 100 } } },
      /would need more than 200000 NFA states/,
    ],
    ['a $ref fan-out that doubles per level', fanOut(30), /would need more than 200000 NFA states/],
    ['a megabyte-long const', { const: 'x'.repeat(1_000_000) }, /would need more than 200000 NFA states/],
    [
      'a property name of half a megabyte',
      { type: 'object', properties: { ['k'.repeat(500_000)]: { type: 'null' } } },
      /would need more than 200000 NFA states/,
    ],
    ['a string automaton past the DFA state bound', { type: 'string', maxLength: 3000 }, /exceeds maxDfaStates \(30000\)/],
  ])('%s', (_name, schema, message) => {
    const error = refusal(schema);
    expect(error.code).toBe('schema_too_large');
    expect(error.message).toMatch(message);
  });
});

/** d0 → {a: d1, b: d1} → ... : 2^levels expansions of a DAG with `levels` nodes. */
function fanOut(levels: number): unknown {
  const defs: Record<string, unknown> = { [`d${levels}`]: { type: 'string' } };
  for (let i = 0; i < levels; i++) defs[`d${i}`] = { type: 'object', properties: { a: { $ref: `#/$defs/d${i + 1}` }, b: { $ref: `#/$defs/d${i + 1}` } } };
  return { $defs: defs, $ref: '#/$defs/d0' };
}
