import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { CHAT_FIELDS, COMPLETION_FIELDS, EMBEDDING_FIELDS, RESPONSES_FIELDS, fieldChecker, fieldTableMarkdown } from '../../../platform/api/openai-fields.js';
import { createLogger } from '../../../protocol/logger.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = createLogger({ level: 'debug', format: 'json', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { lines, log };
}

describe('request fields of the OpenAI routes', () => {
  it('logs an unknown field once per name and endpoint, and serves the request', () => {
    const { lines, log } = capture();
    const check = fieldChecker('/v1/chat/completions', CHAT_FIELDS, log);
    check({ model: 'm', messages: [], frobnicate: 1 });
    check({ model: 'm', messages: [], frobnicate: 2, other: true });
    expect(lines.map((l) => [l.msg, l.field, l.endpoint])).toEqual([
      ['unknown request field ignored', 'frobnicate', '/v1/chat/completions'],
      ['unknown request field ignored', 'other', '/v1/chat/completions'],
    ]);
  });

  it('refuses a field it cannot honour, naming it and why, unless its value is what is served anyway', () => {
    const check = fieldChecker('/v1/chat/completions', CHAT_FIELDS, capture().log);
    expect(() => check({ audio: { voice: 'x' } })).toThrow(
      expect.objectContaining({ code: 'unsupported_parameter', param: 'audio', message: 'audio: not supported: only text is served' }),
    );
    expect(() => check({ use_beam_search: true })).toThrow(expect.objectContaining({ param: 'use_beam_search' }));
    expect(() => check({ use_beam_search: false, modalities: ['text'], skip_special_tokens: true, audio: null })).not.toThrow();
    expect(() => check({ user: 'u', metadata: { a: 1 }, store: true, service_tier: 'flex', prediction: { type: 'content', content: 'x' } })).not.toThrow();
    const completions = fieldChecker('/v1/completions', COMPLETION_FIELDS, capture().log);
    expect(() => completions({ best_of: 3, suffix: null })).not.toThrow();
    expect(() => completions({ suffix: '}' })).toThrow(expect.objectContaining({ param: 'suffix' }));
  });

  it("prints each table into docs/api.md exactly, with vLLM's behaviour beside each field", async () => {
    const doc = await readFile(new URL('../../../docs/api.md', import.meta.url), 'utf8');
    for (const table of [CHAT_FIELDS, COMPLETION_FIELDS, RESPONSES_FIELDS, EMBEDDING_FIELDS]) {
      for (const rule of Object.values(table)) expect(rule.vllm.length).toBeGreaterThan(0);
      expect(doc, 'docs/api.md holds the table as fieldTableMarkdown prints it').toContain(fieldTableMarkdown(table));
    }
  });
});
