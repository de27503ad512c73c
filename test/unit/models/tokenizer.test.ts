import fc from 'fast-check';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderChat } from '../../../platform/models/chat-template.js';
import { buildTinyTokenizer, END_TOKEN } from '../../../platform/models/tiny-tokenizer.js';
import { byteLevelTokenizer, loadTokenizer, tokenizerFromJson, type Tokenizer } from '../../../platform/models/tokenizer.js';

const fixtures = new URL('../../fixtures/models/', import.meta.url).pathname;
const tiny = buildTinyTokenizer();
const wordTokenizer = tokenizerFromJson(tiny.json, { eosTokenIds: [tiny.eosTokenId] });

function streamed(tokenizer: Tokenizer, ids: readonly number[]): string[] {
  const decoder = tokenizer.createDecoder();
  const pieces = ids.map((id) => decoder.push(id));
  pieces.push(decoder.flush());
  return pieces;
}

describe('byte-level tokenizer', () => {
  it('is what a directory without tokenizer.json gets, sized from config.json', async () => {
    const tokenizer = await loadTokenizer(join(fixtures, 'tiny-llama'));
    expect(tokenizer.kind).toBe('byte-level');
    expect(tokenizer.vocabSize).toBe(320);
    expect(tokenizer.eosTokenId).toBeUndefined();
    expect(tokenizer.decode([84, 105, 100, 101, 112, 111, 111, 108, 33])).toBe('Tidepool!');
  });

  it('encodes UTF-8 bytes and decodes ids of 256 and above to nothing', () => {
    const tokenizer = byteLevelTokenizer({ vocabSize: 320 });
    expect(tokenizer.encode('é')).toEqual([0xc3, 0xa9]);
    expect(tokenizer.decode([104, 300, 105, 256])).toBe('hi');
  });

  it('round-trips any string', () => {
    const tokenizer = byteLevelTokenizer();
    fc.assert(fc.property(fc.string({ unit: 'grapheme' }), (text) => tokenizer.decode(tokenizer.encode(text)) === text));
  });

  it('streams without splitting a UTF-8 character', () => {
    const tokenizer = byteLevelTokenizer();
    const pieces = streamed(tokenizer, tokenizer.encode('a😀b'));
    expect(pieces).toEqual(['a', '', '', '', '😀', 'b', '']);
  });
});

describe('tokenizer.json tokenizer (tiny word vocabulary)', () => {
  it('encodes common words as single tokens and round-trips text', () => {
    const ids = wordTokenizer.encode('the water is warm');
    expect(ids).toHaveLength(4);
    expect(wordTokenizer.decode(ids)).toBe('the water is warm');
  });

  it('round-trips arbitrary text through byte fallback', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), (text) => {
        fc.pre(!/<\|(system|user|assistant|end)\|>/.test(text));
        return wordTokenizer.decode(wordTokenizer.encode(text)) === text;
      }),
      { numRuns: 200 },
    );
  });

  it('encodes chat markers as single special tokens and skips them when decoding', () => {
    const ids = wordTokenizer.encode(renderChat([{ role: 'user', content: 'hello' }]));
    expect(ids).toContain(tiny.eosTokenId);
    expect(wordTokenizer.encode(END_TOKEN)).toEqual([tiny.eosTokenId]);
    expect(wordTokenizer.decode(ids)).toBe('\nhello\n\n');
  });

  it('streams the same text as a whole decode, never emitting half a character', () => {
    const text = 'the sea 🌊 and the tide pool, café';
    const pieces = streamed(wordTokenizer, wordTokenizer.encode(text));
    expect(pieces.join('')).toBe(text);
    expect(pieces.some((piece) => piece.includes('\uFFFD'))).toBe(false);
  });

  it('ignores ids outside the vocabulary when decoding', () => {
    expect(wordTokenizer.decode([99_999, ...wordTokenizer.encode('sun')])).toBe('sun');
  });
});

describe('loadTokenizer', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tidepool-tok-'));
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tiny.json));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ eos_token_id: [tiny.eosTokenId, 7] }));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('loads tokenizer.json and takes end-of-sequence ids from config.json', async () => {
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.kind).toBe('tokenizer.json');
    expect(tokenizer.vocabSize).toBe(tiny.vocabSize);
    expect(tokenizer.eosTokenId).toBe(tiny.eosTokenId);
    expect(tokenizer.stopTokenIds).toEqual([tiny.eosTokenId, 7]);
  });
});
