import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accepts } from '../../../protocol/structured-output/byte-dfa.js';
import { StructuredOutputError } from '../../../protocol/structured-output/structured-output-error.js';
import { CHAT_FAMILIES } from '../../../platform/models/chat-family.js';
import { parseLegacyFunctions, toLegacyDelta, toLegacyMessage } from '../../../platform/models/legacy-functions.js';
import { parseToolCalls } from '../../../platform/models/tool-call-parser.js';
import { compileToolChoice } from '../../../platform/models/tool-choice-automaton.js';
import { parseToolChatMessages, parseTools } from '../../../platform/models/tool-messages.js';
import { distanceToAccept, randomWalk, seededRandom } from '../structured-output/automaton-walk.js';

const ajv = new Ajv2020({ strict: false });
const TOOLS = parseTools([
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', maxLength: 20 }, days: { type: 'integer', minimum: 1, maximum: 7 } },
        required: ['city'],
        additionalProperties: false,
      },
    },
  },
  {
    type: 'function',
    function: {
      name: 'search',
      parameters: {
        type: 'object',
        properties: { query: { type: 'string' }, tags: { type: 'array', items: { enum: ['news', 'web'] }, maxItems: 2 } },
        required: ['query', 'tags'],
      },
    },
  },
  { type: 'function', function: { name: 'now' } },
]);
const validators = new Map(TOOLS.map((t) => [t.function.name, ajv.compile(t.function.parameters ?? { type: 'object', maxProperties: 0 })]));

describe('tool_choice automata', () => {
  for (const family of CHAT_FAMILIES) {
    it(`${family}: "required" output always parses back into valid tool calls`, () => {
      const { dfa } = compileToolChoice(family, TOOLS, 'required')!;
      const distance = distanceToAccept(dfa);
      fc.assert(
        fc.property(fc.integer(), (seed) => {
          const text = new TextDecoder('utf-8', { fatal: true }).decode(randomWalk(dfa, seededRandom(seed), { distance, budget: 250 }));
          const parsed = parseToolCalls(family, text);
          expect(parsed.content, text).toBeNull();
          expect(parsed.toolCalls.length).toBeGreaterThan(0);
          for (const call of parsed.toolCalls) {
            const validate = validators.get(call.function.name)!;
            expect(validate(JSON.parse(call.function.arguments)), `${text}: ${JSON.stringify(validate.errors)}`).toBe(true);
          }
        }),
        { numRuns: 150 },
      );
    });
  }

  it('a named function allows exactly one call of that function', () => {
    const { dfa } = compileToolChoice('qwen2.5', TOOLS, { type: 'function', function: { name: 'now' } })!;
    expect(accepts(dfa, '<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>')).toBe(true);
    expect(accepts(dfa, '<tool_call>\n{"name": "search", "arguments": {"query": "x", "tags": []}}\n</tool_call>')).toBe(false);
    expect(accepts(dfa, '<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>')).toBe(
      false,
    );
  });

  it('parallel calls follow parallel_tool_calls, and Llama 3.1 always makes one', () => {
    const two = '<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>\n<tool_call>\n{"name": "now", "arguments": {}}\n</tool_call>';
    expect(accepts(compileToolChoice('qwen2.5', TOOLS, 'required')!.dfa, two)).toBe(true);
    expect(accepts(compileToolChoice('qwen2.5', TOOLS, 'required', { parallelToolCalls: false })!.dfa, two)).toBe(false);
    const llama = compileToolChoice('llama3.1', TOOLS, 'required')!.dfa;
    expect(accepts(llama, '{"name": "get_weather", "parameters": {"city": "Oslo", "days": 3}}')).toBe(true);
    expect(accepts(llama, '{"name": "get_weather", "parameters": {"city": "Oslo", "days": 8}}')).toBe(false);
  });

  it('constrains nothing for "auto" and "none"', () => {
    expect(compileToolChoice('qwen2.5', TOOLS, 'auto')).toBeUndefined();
    expect(compileToolChoice('qwen2.5', TOOLS, 'none')).toBeUndefined();
  });

  it('names the tool whose parameters cannot be enforced', () => {
    const tools = parseTools([
      { type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { d: { type: 'string', format: 'date' } } } } },
    ]);
    try {
      compileToolChoice('qwen2.5', tools, 'required');
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(StructuredOutputError);
      expect((error as StructuredOutputError).param).toBe('tools[0].function.parameters');
      expect((error as StructuredOutputError).message).toMatch(/"format" at #\/properties\/d\/format/);
    }
  });
});

describe('legacy functions / function_call', () => {
  it('map onto tools and tool_choice', () => {
    const legacy = parseLegacyFunctions({ functions: [{ name: 'f', parameters: { type: 'object' } }], function_call: { name: 'f' } });
    expect(legacy).toEqual({
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
      toolChoice: { type: 'function', function: { name: 'f' } },
    });
    expect(parseLegacyFunctions({ functions: [{ name: 'f' }] })?.toolChoice).toBe('auto');
    expect(parseLegacyFunctions({ messages: [] })).toBeUndefined();
  });

  it.each([
    [{ functions: [{ name: 'f' }], tools: [] }, /cannot be combined with tools/],
    [{ functions: [{ name: 'f' }], function_call: { name: 'g' } }, /function_call: function "g" is not among functions \(f\)/],
    [{ functions: [{ name: 'f' }], function_call: 'required' }, /function_call: must be "none", "auto" or \{"name": \.\.\.\}/],
    [{ functions: [{ nam: 'f' }] }, /functions\[0\]\.name: must be/],
  ])('refuses %j', (body, message) => {
    expect(() => parseLegacyFunctions(body)).toThrow(message);
  });

  it('histories in the legacy shape are read as tool calls and results', () => {
    const messages = parseToolChatMessages(
      [
        { role: 'user', content: 'x' },
        { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{"a":1}' } },
        { role: 'function', name: 'f', content: '42' },
      ],
      'qwen2.5',
    );
    expect(messages[1]).toEqual({
      role: 'assistant',
      content: null,
      toolCalls: [{ id: 'legacy-1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }],
    });
    expect(messages[2]).toEqual({ role: 'tool', content: '42', toolCallId: 'legacy-1' });
    expect(() =>
      parseToolChatMessages(
        [
          { role: 'assistant', content: null, function_call: { name: 'f', arguments: '{}' } },
          { role: 'function', name: 'g', content: '1' },
        ],
        'qwen2.5',
      ),
    ).toThrow(/messages\[1\]\.name: must name the function called/);
    expect(() => parseToolChatMessages([{ role: 'assistant', content: null, function_call: { name: 'f', arguments: 'x' } }], 'qwen2.5')).toThrow(
      /messages\[0\]\.function_call\.arguments/,
    );
  });

  it('answer in the legacy shape', () => {
    const parsed = parseToolCalls('qwen2.5', '<tool_call>\n{"name": "f", "arguments": {"a": 1}}\n</tool_call>');
    expect(toLegacyMessage(parsed)).toEqual({ content: null, function_call: { name: 'f', arguments: '{"a": 1}' } });
    expect(toLegacyDelta({ tool_calls: [{ index: 0, id: 'x', type: 'function', function: { name: 'f', arguments: '' } }] })).toEqual({
      function_call: { name: 'f', arguments: '' },
    });
    expect(toLegacyDelta({ tool_calls: [{ index: 0, function: { arguments: '{"a"' } }] })).toEqual({ function_call: { arguments: '{"a"' } });
    expect(toLegacyDelta({ content: 'hi' })).toEqual({ content: 'hi' });
  });
});
