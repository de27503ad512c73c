import { describe, expect, it } from 'vitest';
import { AutomatonCache } from '../../../protocol/structured-output/automaton-cache.js';
import { compileJsonSchema, compileResponseFormat } from '../../../protocol/structured-output/response-format.js';
import { StructuredOutputError } from '../../../protocol/structured-output/structured-output-error.js';

const schemaOf = (n: number) => ({ type: 'object', properties: { [`k${n}`]: { type: 'integer' } }, required: [`k${n}`] });

describe('AutomatonCache', () => {
  it('compiles a schema once and hands the same automaton back', () => {
    const cache = new AutomatonCache();
    const first = compileJsonSchema(schemaOf(1), 'p', { cache });
    const second = compileJsonSchema(JSON.parse(JSON.stringify(schemaOf(1))), 'p', { cache });
    expect(second).toBe(first);
    expect(cache.size).toBe(1);
  });

  it('keys on property order, which decides the generated order', () => {
    const cache = new AutomatonCache();
    const ab = compileJsonSchema({ type: 'object', properties: { a: { type: 'null' }, b: { type: 'null' } }, required: ['a', 'b'] }, 'p', { cache });
    const ba = compileJsonSchema({ type: 'object', properties: { b: { type: 'null' }, a: { type: 'null' } }, required: ['a', 'b'] }, 'p', { cache });
    expect(ba.hash).not.toBe(ab.hash);
    expect(cache.size).toBe(2);
  });

  it('evicts the least recently used entry beyond its bound', () => {
    const cache = new AutomatonCache(2);
    const one = compileJsonSchema(schemaOf(1), 'p', { cache });
    compileJsonSchema(schemaOf(2), 'p', { cache });
    compileJsonSchema(schemaOf(1), 'p', { cache });
    compileJsonSchema(schemaOf(3), 'p', { cache });
    expect(cache.size).toBe(2);
    expect(compileJsonSchema(schemaOf(1), 'p', { cache })).toBe(one);
  });

  it('bounds the total states it holds', () => {
    const cache = new AutomatonCache(100, 10);
    compileJsonSchema(schemaOf(1), 'p', { cache });
    compileJsonSchema(schemaOf(2), 'p', { cache });
    expect(cache.size).toBe(1);
  });

  it('remembers a refusal, so a hostile schema sent again costs a lookup', () => {
    const cache = new AutomatonCache();
    const hostile = { type: 'array', items: { type: 'string', maxLength: 1_000_000_000 } };
    const first = captured(() => compileJsonSchema(hostile, 'p', { cache }));
    const second = captured(() => compileJsonSchema(hostile, 'p', { cache }));
    expect(first.code).toBe('schema_too_large');
    expect(second).toBe(first);
  });

  it('refuses a hostile nesting before hashing it for the key', () => {
    let schema: unknown = { type: 'string' };
    for (let i = 0; i < 100_000; i++) schema = { type: 'array', items: schema };
    expect(captured(() => compileJsonSchema(schema, 'p', { cache: new AutomatonCache() })).code).toBe('schema_too_large');
  });

  it('caches json_object mode too', () => {
    const cache = new AutomatonCache();
    expect(compileResponseFormat({ type: 'json_object' }, { cache })).toBe(compileResponseFormat({ type: 'json_object' }, { cache }));
  });
});

function captured(fn: () => unknown): StructuredOutputError {
  try {
    fn();
  } catch (error) {
    return error as StructuredOutputError;
  }
  throw new Error('did not throw');
}
