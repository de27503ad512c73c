import { describe, expect, it } from 'vitest';
import { accepts } from '../../../protocol/structured-output/byte-dfa.js';
import { compileGrammar, DEFAULT_AUTOMATON_LIMITS } from '../../../protocol/structured-output/compile-grammar.js';
import { alt, byteRanges, list, literal, members, NOTHING, repeat, seq, type Grammar } from '../../../protocol/structured-output/grammar.js';
import { StructuredOutputError } from '../../../protocol/structured-output/structured-output-error.js';
import { grammarSize } from '../../../protocol/structured-output/grammar-size.js';
import { buildNfa } from '../../../protocol/structured-output/nfa.js';
import { schemaToGrammar } from '../../../protocol/structured-output/schema-compiler.js';
import { distanceToAccept, randomWalk, seededRandom } from './automaton-walk.js';
import { SCHEMA_CASES } from './schema-cases.js';

const compile = (g: Grammar) => compileGrammar(g, 'test').dfa;
const digit = byteRanges([0x30, 0x39]);

describe('compileGrammar', () => {
  it('accepts exactly a literal', () => {
    const dfa = compile(literal('null'));
    expect(dfa.stateCount).toBe(5);
    expect(accepts(dfa, 'null')).toBe(true);
    for (const text of ['', 'nul', 'nulll', 'Null']) expect(accepts(dfa, text)).toBe(false);
  });

  it('accepts alternatives and shares their common suffixes after minimising', () => {
    const dfa = compile(alt(literal('cat'), literal('bat'), literal('rat')));
    expect(['cat', 'bat', 'rat'].every((t) => accepts(dfa, t))).toBe(true);
    expect(accepts(dfa, 'at')).toBe(false);
    expect(dfa.stateCount).toBe(4);
    expect(dfa.transitions[0]).toEqual([
      [0x62, 0x63, 1],
      [0x72, 0x72, 1],
    ]);
  });

  it('counts repetitions between bounds, and loops when unbounded', () => {
    const bounded = compile(repeat(digit, 2, 4));
    expect(['1', '12', '123', '1234', '12345'].map((t) => accepts(bounded, t))).toEqual([false, true, true, true, false]);
    const unbounded = compile(seq(literal('x'), repeat(digit, 1, Infinity)));
    expect(accepts(unbounded, 'x' + '7'.repeat(500))).toBe(true);
    expect(accepts(unbounded, 'x')).toBe(false);
    expect(unbounded.stateCount).toBe(3);
  });

  it('puts separators only between list items', () => {
    const any = compile(seq(literal('['), list(digit, literal(','), 0, Infinity), literal(']')));
    for (const ok of ['[]', '[1]', '[1,2,3]']) expect(accepts(any, ok)).toBe(true);
    for (const bad of ['[,]', '[1,]', '[,1]', '[12]']) expect(accepts(any, bad)).toBe(false);
    const bounded = compile(seq(literal('['), list(digit, literal(','), 2, 3), literal(']')));
    expect(['[1]', '[1,2]', '[1,2,3]', '[1,2,3,4]'].map((t) => accepts(bounded, t))).toEqual([false, true, true, false]);
  });

  it('skips optional members in order and separates the present ones', () => {
    const g = seq(
      literal('{'),
      members(
        [
          { grammar: literal('a'), required: false },
          { grammar: literal('b'), required: true },
          { grammar: literal('c'), required: false },
        ],
        literal(','),
      ),
      literal('}'),
    );
    const dfa = compile(g);
    for (const ok of ['{b}', '{a,b}', '{b,c}', '{a,b,c}']) expect(accepts(dfa, ok)).toBe(true);
    for (const bad of ['{}', '{a}', '{c,b}', '{a,c}', '{,b}', '{ab}', '{b,a}']) expect(accepts(dfa, bad)).toBe(false);
  });

  it('gives equal languages the same automaton and hash', () => {
    const a = compileGrammar(alt(literal('ab'), literal('ac')), 't');
    const b = compileGrammar(seq(literal('a'), byteRanges([0x62, 0x63])), 't');
    expect(a.dfa).toEqual(b.dfa);
    expect(a.hash).toBe(b.hash);
    expect(a.hash).toMatch(/^[0-9a-f]{64}$/);
  });

  it('has no dead ends, even where the grammar had some', () => {
    const g = alt(seq(literal('x'), NOTHING), seq(literal('y'), repeat(digit, 0, 3)), seq(literal('z'), alt()));
    const dfa = compile(g);
    expect(distanceToAccept(dfa).every((d) => d < Infinity)).toBe(true);
    expect(accepts(dfa, 'x')).toBe(false);
    const random = seededRandom(1);
    for (let i = 0; i < 50; i++) expect(new TextDecoder().decode(randomWalk(dfa, random))).toMatch(/^y[0-9]{0,3}$/);
  });

  it('refuses an empty language as an unsatisfiable schema', () => {
    expect(() => compileGrammar(seq(literal('a'), alt()), 'response_format')).toThrow(StructuredOutputError);
    try {
      compileGrammar(alt(), 'response_format');
    } catch (error) {
      expect((error as StructuredOutputError).code).toBe('invalid_schema');
      expect((error as StructuredOutputError).param).toBe('response_format');
    }
  });

  it("refuses an automaton with more transitions than the engine's grammar command takes", () => {
    const limits = { ...DEFAULT_AUTOMATON_LIMITS, maxTransitions: 3 };
    expect(() => compileGrammar(literal('abcd'), 'p', limits)).toThrow(/exceeds maxTransitions \(3\)/);
    expect(compileGrammar(literal('abc'), 'p', limits).dfa.stateCount).toBe(4);
  });

  it('refuses a grammar whose expansion is too large before building it', () => {
    const huge = repeat(repeat(repeat(digit, 0, 1000), 0, 1000), 0, 1000);
    // The message comes from the size prediction, which runs before any state is allocated.
    expect(() => compileGrammar(huge, 'p')).toThrow(/would need more than 200000 NFA states/);
  });
});

describe('grammarSize', () => {
  it('bounds the states the NFA builder really creates, for every test schema', () => {
    for (const c of SCHEMA_CASES) {
      const g = schemaToGrammar(c.schema, { param: 'p' });
      // +1: the start state exists before the grammar is compiled into it.
      expect(buildNfa(g).stateCount, c.name).toBeLessThanOrEqual(grammarSize(g, Infinity) + 1);
    }
  });
});
