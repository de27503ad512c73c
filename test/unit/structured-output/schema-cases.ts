/**
 * Schemas covering every enforced keyword, each with documents (in the spaced style) the automaton must
 * accept and documents it must reject. Shared by the acceptance tests and the random-walk property tests.
 */
export interface SchemaCase {
  readonly name: string;
  readonly schema: unknown;
  readonly valid: readonly string[];
  readonly invalid: readonly string[];
}

export const SCHEMA_CASES: readonly SchemaCase[] = [
  {
    name: 'strict object of scalars',
    schema: {
      type: 'object',
      properties: { s: { type: 'string' }, i: { type: 'integer' }, n: { type: 'number' }, b: { type: 'boolean' }, z: { type: 'null' } },
      required: ['s', 'i', 'n', 'b', 'z'],
      additionalProperties: false,
    },
    valid: ['{"s": "hé\\n\\u00e9\\"", "i": -12, "n": 3.25e-7, "b": true, "z": null}', '{"s": "", "i": 0, "n": -0.5, "b": false, "z": null}'],
    invalid: [
      '{"s": "x", "i": 1.5, "n": 1, "b": true, "z": null}',
      '{"i": 1, "s": "x", "n": 1, "b": true, "z": null}',
      '{"s":"x","i":1,"n":1,"b":true,"z":null}',
      '{"s": "x", "i": 01, "n": 1, "b": true, "z": null}',
      '{"s": "x", "i": 1, "n": 1, "b": true}',
      '{"s": "\\ud800", "i": 1, "n": 1, "b": true, "z": null}',
    ],
  },
  {
    name: 'optional properties, in schema order',
    schema: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' }, c: { type: 'boolean' } }, required: ['b'] },
    valid: ['{"b": "x"}', '{"a": 1, "b": "x"}', '{"b": "x", "c": true}', '{"a": 1, "b": "x", "c": false}'],
    invalid: ['{}', '{"a": 1}', '{"b": "x", "a": 1}', '{"a": 1, "b": "x", "d": 1}', '{, "b": "x"}'],
  },
  {
    name: 'nested objects',
    schema: {
      type: 'object',
      properties: {
        user: {
          type: 'object',
          properties: { address: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
          required: ['address'],
        },
      },
      required: ['user'],
    },
    valid: ['{"user": {"address": {"city": "Oslo"}}}'],
    invalid: ['{"user": {"address": {}}}', '{"user": {}}'],
  },
  {
    name: 'arrays with minItems and maxItems',
    schema: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' } }, required: ['id'] }, minItems: 1, maxItems: 3 },
    valid: ['[{"id": 1}]', '[{"id": 1}, {"id": 2}, {"id": 3}]'],
    invalid: ['[]', '[{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]', '[{"id": 1},{"id": 2}]'],
  },
  {
    name: 'tuple with prefixItems and no further items',
    schema: { type: 'array', prefixItems: [{ type: 'string' }, { type: 'integer' }], items: false, minItems: 1 },
    valid: ['["a"]', '["a", 2]'],
    invalid: ['[]', '[2]', '["a", 2, 3]', '["a", "b"]'],
  },
  {
    name: 'enum of every JSON type',
    schema: { enum: ['red', 'grün', 'say "hi"', 42, -1.5, true, null, { k: [1, 'x'] }, []] },
    valid: ['"red"', '"grün"', '"say \\"hi\\""', '42', '-1.5', 'true', 'null', '{"k": [1, "x"]}', '[]'],
    invalid: ['"blue"', '42.0', 'false', '{"k": [1,"x"]}', '"gr\\u00fcn"'],
  },
  {
    name: 'const and enum filtered by type',
    schema: {
      type: 'object',
      properties: { kind: { const: 'circle' }, size: { type: 'integer', enum: [1, 2.5, 3, 'x'] } },
      required: ['kind', 'size'],
      additionalProperties: false,
    },
    valid: ['{"kind": "circle", "size": 1}', '{"kind": "circle", "size": 3}'],
    invalid: ['{"kind": "square", "size": 1}', '{"kind": "circle", "size": 2.5}', '{"kind": "circle", "size": "x"}'],
  },
  {
    name: 'anyOf',
    schema: {
      anyOf: [
        { type: 'object', properties: { x: { type: 'number' } }, required: ['x'], additionalProperties: false },
        { type: 'string', maxLength: 2 },
        { type: 'null' },
      ],
    },
    valid: ['{"x": 1}', '"ab"', 'null'],
    invalid: ['"abc"', '{}', 'true'],
  },
  {
    name: '$ref and $defs, shared and chained',
    schema: {
      $defs: {
        point: {
          type: 'object',
          properties: { x: { $ref: '#/$defs/coord' }, y: { $ref: '#/$defs/coord' } },
          required: ['x', 'y'],
          additionalProperties: false,
        },
        coord: { type: 'integer', minimum: -9, maximum: 9 },
      },
      type: 'object',
      properties: { from: { $ref: '#/$defs/point' }, to: { $ref: '#/$defs/point' } },
      required: ['from', 'to'],
      additionalProperties: false,
    },
    valid: ['{"from": {"x": 0, "y": -9}, "to": {"x": 9, "y": 1}}'],
    invalid: ['{"from": {"x": 0, "y": -10}, "to": {"x": 9, "y": 1}}', '{"from": {"x": 0}, "to": {"x": 9, "y": 1}}'],
  },
  {
    name: 'type arrays',
    schema: {
      type: 'object',
      properties: { a: { type: ['string', 'null'] }, b: { type: ['integer', 'number'] }, c: { type: ['boolean', 'array'], items: { type: 'integer' } } },
      required: ['a', 'b', 'c'],
    },
    valid: ['{"a": null, "b": 1.5, "c": [1, 2]}', '{"a": "x", "b": 2, "c": false}'],
    invalid: ['{"a": 1, "b": 1, "c": true}', '{"a": null, "b": "1", "c": true}', '{"a": null, "b": 1, "c": ["x"]}'],
  },
  {
    name: 'string lengths in code points',
    schema: { type: 'array', items: { type: 'string', minLength: 2, maxLength: 3 } },
    valid: ['["ab", "abc", "😀é", "\\n\\t"]', '[]'],
    invalid: ['["a"]', '["abcd"]', '["😀"]'],
  },
  {
    name: 'integer bounds',
    schema: {
      type: 'object',
      properties: {
        a: { type: 'integer', minimum: 0 },
        b: { type: 'integer', exclusiveMinimum: -3, exclusiveMaximum: 250 },
        c: { type: 'integer', minimum: 1.5, maximum: 1000000007 },
        d: { type: 'integer', maximum: -10 },
      },
      required: ['a', 'b', 'c', 'd'],
    },
    valid: ['{"a": 0, "b": -2, "c": 2, "d": -10}', '{"a": 12345678901234567890, "b": 249, "c": 1000000007, "d": -99999}'],
    invalid: [
      '{"a": -1, "b": 0, "c": 2, "d": -10}',
      '{"a": 0, "b": -3, "c": 2, "d": -10}',
      '{"a": 0, "b": 250, "c": 2, "d": -10}',
      '{"a": 0, "b": 0, "c": 1, "d": -10}',
      '{"a": 0, "b": 0, "c": 1000000008, "d": -10}',
      '{"a": 0, "b": 0, "c": 2, "d": -9}',
      '{"a": -0, "b": 0, "c": 2, "d": -10}',
    ],
  },
  {
    name: 'map through additionalProperties',
    schema: { type: 'object', additionalProperties: { type: 'boolean' } },
    valid: ['{}', '{"any key": true, "é": false}'],
    invalid: ['{"a": 1}', '{"a": true,}'],
  },
  {
    name: 'open values',
    schema: {
      type: 'object',
      properties: { anything: {}, list: { type: 'array' }, obj: { type: 'object' }, yes: true },
      required: ['anything', 'list', 'obj', 'yes'],
    },
    valid: ['{"anything": [1, {"a": null}], "list": [[], {}], "obj": {"k": [1]}, "yes": "x"}'],
    invalid: ['{"anything": [1,], "list": [], "obj": {}, "yes": 1}', '{"anything": 1, "list": {}, "obj": {}, "yes": 1}'],
  },
  {
    name: 'single allOf, false schema, nullable via anyOf',
    schema: {
      type: 'object',
      properties: {
        wrapped: { allOf: [{ $ref: '#/definitions/name' }], description: 'x' },
        never: false,
        maybe: { anyOf: [{ $ref: '#/definitions/name' }, { type: 'null' }], default: null },
      },
      required: ['wrapped'],
      additionalProperties: false,
      definitions: { name: { type: 'string', enum: ['ann', 'bob'] } },
    },
    valid: ['{"wrapped": "ann"}', '{"wrapped": "bob", "maybe": null}', '{"wrapped": "bob", "maybe": "ann"}'],
    invalid: ['{"wrapped": "cat"}', '{"wrapped": "ann", "never": 1}'],
  },
  {
    name: 'numbers',
    schema: { type: 'array', items: { type: 'number' } },
    valid: ['[0, -0, 1.5, 1e5, 1E+99, -2.25e-10, 12345678901234567890]'],
    invalid: ['[01]', '[1.]', '[.5]', '[+1]', '[1e]', '[1e100]', '[123456789012345678901]', '[NaN]', '[Infinity]'],
  },
];
