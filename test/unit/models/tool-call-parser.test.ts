import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ChatFamily } from '../../../platform/models/chat-family.js';
import type { ChatDelta, ParsedToolCalls } from '../../../platform/models/tool-call-deltas.js';
import { parseToolCalls } from '../../../platform/models/tool-call-parser.js';
import { ToolCallStreamParser } from '../../../platform/models/tool-call-stream-parser.js';

function ids(): () => string {
  let n = 0;
  return () => `call_${n++}`;
}

/** Feeds `pieces` and rebuilds content and calls from the deltas alone, as a client would. */
function streamed(
  family: ChatFamily,
  pieces: readonly string[],
): { deltas: ChatDelta[]; content: string; calls: { id?: string; name?: string; arguments: string }[]; result: ParsedToolCalls } {
  const parser = new ToolCallStreamParser(family, { newId: ids() });
  const deltas = [...pieces.flatMap((p) => parser.push(p)), ...parser.finish()];
  let content = '';
  const calls: { id?: string; name?: string; arguments: string }[] = [];
  for (const delta of deltas) {
    if ('content' in delta) content += delta.content;
    else
      for (const d of delta.tool_calls) {
        if (d.id !== undefined) calls[d.index] = { id: d.id, name: d.function.name, arguments: '' };
        calls[d.index].arguments += d.function.arguments;
      }
  }
  return { deltas, content, calls, result: parser.result() };
}

const QWEN_TWO_CALLS =
  'Let me check both.\n<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}}\n</tool_call>\n' +
  '<tool_call>\n{"name": "get_time", "arguments": {"tz": "Europe/Paris", "note": "a } and a \\" inside"}}\n</tool_call>';

describe('parseToolCalls (whole completions)', () => {
  it('reads Hermes-style calls (Qwen2.5, Tidepool) with the text before them', () => {
    const parsed = parseToolCalls('qwen2.5', QWEN_TWO_CALLS, { newId: ids() });
    expect(parsed.content).toBe('Let me check both.');
    expect(parsed.toolCalls).toEqual([
      { id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Paris", "unit": "celsius"}' } },
      { id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '{"tz": "Europe/Paris", "note": "a } and a \\" inside"}' } },
    ]);
    expect(parsed.malformed).toEqual([]);
  });

  it('gives null content when there are only calls, and {} for a call without arguments', () => {
    const parsed = parseToolCalls('tidepool', '<tool_call>\n{"name": "now"}\n</tool_call>', { newId: ids() });
    expect(parsed.content).toBeNull();
    expect(parsed.toolCalls[0].function).toEqual({ name: 'now', arguments: '{}' });
  });

  it('leaves text without calls untouched', () => {
    for (const text of ['Hello there  ', '', 'a <tool b', 'x < y and {"name": 1}']) {
      expect(parseToolCalls('qwen2.5', text)).toEqual({ content: text, toolCalls: [], malformed: [], incomplete: false });
    }
  });

  it('keeps a malformed or cut-off call in the content', () => {
    const broken = 'Sure <tool_call>\n{"name": "f", "arguments": {"a": 1,}}\n</tool_call>';
    expect(parseToolCalls('qwen2.5', broken)).toMatchObject({ content: broken, toolCalls: [] });
    const cut = '<tool_call>\n{"name": "f", "arguments": {"a": ';
    expect(parseToolCalls('qwen2.5', cut)).toMatchObject({ content: cut, toolCalls: [] });
    const notObject = '<tool_call>\n{"name": "f", "arguments": "a=1"}\n</tool_call>';
    expect(parseToolCalls('qwen2.5', notObject)).toMatchObject({ content: notObject, toolCalls: [] });
  });

  it('reads Llama 3.1 JSON calls only at the start of the answer', () => {
    const parsed = parseToolCalls('llama3.1', ' {"name": "get_weather", "parameters": {"city": "Oslo"}}', { newId: ids() });
    expect(parsed).toEqual({
      content: null,
      toolCalls: [{ id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo"}' } }],
      malformed: [],
      incomplete: false,
    });
    expect(parseToolCalls('llama3.1', '<|python_tag|>{"name": "f", "arguments": {}}').toolCalls[0].function).toEqual({ name: 'f', arguments: '{}' });
    expect(
      parseToolCalls('llama3.1', '{"name": "a", "parameters": {}}; {"name": "b", "parameters": {"x": [1]}}').toolCalls.map((c) => c.function.name),
    ).toEqual(['a', 'b']);
    for (const text of ['It is {"name": "f", "parameters": {}}', '{"title": "x"}', '{ "nam', '{"name": 3, "parameters": {}}']) {
      expect(parseToolCalls('llama3.1', text)).toMatchObject({ content: text, toolCalls: [] });
    }
  });
});

describe('ToolCallStreamParser', () => {
  it('streams the id and name first, then argument fragments, then nothing else', () => {
    const pieces = [
      'Let me check both.\n<tool',
      '_call>\n{"name": "get_',
      'weather", "arguments": {"ci',
      'ty": "Paris", "unit": "celsius"}}\n</tool_call>\n',
      QWEN_TWO_CALLS.slice(QWEN_TWO_CALLS.indexOf('<tool_call>\n{"name": "get_time')),
    ];
    const { deltas, content, calls } = streamed('qwen2.5', pieces);
    expect(content).toBe('Let me check both.');
    expect(calls).toEqual([
      { id: 'call_0', name: 'get_weather', arguments: '{"city": "Paris", "unit": "celsius"}' },
      { id: 'call_1', name: 'get_time', arguments: '{"tz": "Europe/Paris", "note": "a } and a \\" inside"}' },
    ]);
    const firsts = deltas.flatMap((d) => ('tool_calls' in d ? d.tool_calls : [])).filter((d) => d.id !== undefined);
    expect(firsts).toEqual([
      { index: 0, id: 'call_0', type: 'function', function: { name: 'get_weather', arguments: '' } },
      { index: 1, id: 'call_1', type: 'function', function: { name: 'get_time', arguments: '' } },
    ]);
  });

  it('holds text that only looks like a tag until it is decided', () => {
    const parser = new ToolCallStreamParser('qwen2.5');
    expect(parser.push('I use <tool')).toEqual([{ content: 'I use' }]);
    expect(parser.push('ing> here')).toEqual([{ content: ' <tooling> here' }]);
    expect(parser.finish()).toEqual([]);
    const llama = new ToolCallStreamParser('llama3.1');
    expect(llama.push(' {')).toEqual([]);
    expect(llama.push('"na')).toEqual([]);
    expect(llama.push('p": 1}')).toEqual([{ content: ' {"nap": 1}' }]);
  });

  it('agrees with the whole-completion parser however the text is split', () => {
    const texts: [ChatFamily, string][] = [
      ['qwen2.5', QWEN_TWO_CALLS],
      ['tidepool', 'plain words only, with a < sign'],
      ['tidepool', '<tool_call>\n{"arguments": {"x": [1, {"y": "}"}]}, "name": "late_name"}\n</tool_call>'],
      ['llama3.1', '{"name": "get_weather", "parameters": {"city": "Oslo", "days": 3}}'],
      ['llama3.1', 'No tool needed: {"name": "x"}'],
    ];
    for (const [family, text] of texts) {
      const whole = parseToolCalls(family, text, { newId: ids() });
      fc.assert(
        fc.property(fc.array(fc.nat(text.length), { maxLength: 12 }), (cuts) => {
          const points = [...new Set([0, ...cuts, text.length])].sort((a, b) => a - b);
          const pieces = points.slice(1).map((p, i) => text.slice(points[i], p));
          const { content, calls, result } = streamed(family, pieces);
          expect(content === '' && whole.content === null ? null : content).toBe(whole.content);
          expect(calls).toEqual(whole.toolCalls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments })));
          expect(result).toEqual(whole);
        }),
        { numRuns: 100 },
      );
    }
  });

  it('reports a call cut off mid-arguments as incomplete, and one broken after its name as malformed', () => {
    const cut = streamed('qwen2.5', ['<tool_call>\n{"name": "f", "arguments": {"a": ']);
    expect(cut.calls).toEqual([{ id: 'call_0', name: 'f', arguments: '{"a": ' }]);
    expect(cut.result.incomplete).toBe(true);
    const broken = streamed('qwen2.5', ['<tool_call>\n{"name": "f", "arguments": {"a": 1} junk}\n</tool_call> after']);
    expect(broken.result.malformed).toEqual([0]);
    expect(broken.content).toBe(' after');
  });

  it('turns a call that breaks before its name back into content', () => {
    const { content, calls } = streamed('qwen2.5', ['<tool_call>\n[1, 2]\n</tool_call> ok']);
    expect(calls).toEqual([]);
    expect(content).toBe('<tool_call>\n[1, 2]\n</tool_call> ok');
  });
});

describe('tool-call parsing on arbitrary text', () => {
  const pieces = [
    '<tool_call>',
    '</tool_call>',
    '<tool',
    '{"name": "f", ',
    '"arguments": ',
    '"parameters": ',
    '{',
    '}',
    '[',
    ']',
    '"',
    '\\',
    ' ',
    '\n',
    'x',
    ',',
    ':',
    ';',
    '<|python_tag|>',
    '1',
  ];
  const text = fc.array(fc.constantFrom(...pieces), { maxLength: 40 }).map((parts) => parts.join(''));

  it('never throws or hangs, and what it streams is what it reports', () => {
    fc.assert(
      fc.property(fc.constantFrom<ChatFamily>('tidepool', 'qwen2.5', 'llama3.1'), text, fc.array(fc.nat(200), { maxLength: 8 }), (family, input, cuts) => {
        const points = [...new Set([0, ...cuts.map((c) => c % (input.length + 1)), input.length])].sort((a, b) => a - b);
        const { content, calls, result } = streamed(
          family,
          points.slice(1).map((p, i) => input.slice(points[i], p)),
        );
        expect(result.content ?? '').toBe(content);
        expect(result.toolCalls.map((c) => ({ id: c.id, name: c.function.name, arguments: c.function.arguments }))).toEqual(calls);
        const whole = parseToolCalls(family, input);
        for (const call of whole.toolCalls) expect(typeof JSON.parse(call.function.arguments)).toBe('object');
      }),
      { numRuns: 500 },
    );
  });
});
