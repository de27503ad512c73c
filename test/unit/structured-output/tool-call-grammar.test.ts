import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accepts } from '../../../protocol/structured-output/byte-dfa.js';
import { StructuredOutputError } from '../../../protocol/structured-output/structured-output-error.js';
import { compileToolCalls, type ToolCallEnvelope, type ToolSpec } from '../../../protocol/structured-output/tool-call-grammar.js';
import { distanceToAccept, randomWalk, seededRandom } from './automaton-walk.js';

const ajv = new Ajv2020({ strict: false });
const HERMES: ToolCallEnvelope = { prefix: '<tool_call>\n', suffix: '\n</tool_call>', separator: '\n', nameKey: 'name', argumentsKey: 'arguments' };
const TOOLS: ToolSpec[] = [
  {
    name: 'get_weather',
    param: 'tools[0].function.parameters',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', maxLength: 12 }, unit: { enum: ['celsius', 'fahrenheit'] } },
      required: ['city'],
      additionalProperties: false,
    },
  },
  {
    name: 'add',
    param: 'tools[1].function.parameters',
    parameters: { type: 'object', properties: { a: { type: 'integer' }, b: { type: 'integer' } }, required: ['a', 'b'] },
  },
  { name: 'now', param: 'tools[2].function.parameters' },
];
const validators = new Map(TOOLS.map((t) => [t.name, ajv.compile((t.parameters ?? { type: 'object', maxProperties: 0 }) as object)]));

describe('tool-call automata', () => {
  it('accepts one call of any tool, with arguments valid for that tool', () => {
    const { dfa } = compileToolCalls(HERMES, TOOLS, 1, 'tool_choice');
    expect(accepts(dfa, '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": -2}}\n</tool_call>')).toBe(true);
    expect(accepts(dfa, '<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>')).toBe(true);
    expect(accepts(dfa, '<tool_call>\n{"name": "add", "arguments": {"city": "Oslo"}}\n</tool_call>')).toBe(false);
    expect(accepts(dfa, '<tool_call>\n{"name": "sub", "arguments": {"a": 1, "b": 2}}\n</tool_call>')).toBe(false);
    expect(accepts(dfa, '<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>')).toBe(
      false,
    );
  });

  it('random walks always yield parseable calls that validate, one or more when parallel', () => {
    const { dfa } = compileToolCalls(HERMES, TOOLS, Infinity, 'tool_choice');
    const distance = distanceToAccept(dfa);
    expect(distance.every((d) => d < Infinity)).toBe(true);
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const text = new TextDecoder('utf-8', { fatal: true }).decode(randomWalk(dfa, seededRandom(seed), { distance, budget: 300 }));
        const calls = [...text.matchAll(/<tool_call>\n(.*?)\n<\/tool_call>/gs)].map((m) => JSON.parse(m[1]) as { name: string; arguments: unknown });
        expect(calls.length).toBeGreaterThan(0);
        expect(calls.map(() => '<tool_call>\n…\n</tool_call>').join('\n')).toBe(
          text.replace(/<tool_call>\n.*?\n<\/tool_call>/gs, '<tool_call>\n…\n</tool_call>'),
        );
        for (const call of calls) expect(validators.get(call.name)!(call.arguments), JSON.stringify(call)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('names the tool whose parameters cannot be compiled', () => {
    const bad: ToolSpec = { name: 'bad', param: 'tools[3].function.parameters', parameters: { type: 'string', pattern: 'x' } };
    try {
      compileToolCalls(HERMES, [...TOOLS, bad], 1, 'tool_choice');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(StructuredOutputError);
      expect((error as StructuredOutputError).param).toBe('tools[3].function.parameters');
      expect((error as StructuredOutputError).message).toMatch(/"pattern"/);
    }
  });
});
