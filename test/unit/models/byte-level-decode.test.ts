import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { byteLevelDecode } from '../../../platform/models/byte-level-decode.js';
import { buildTinyTokenizer } from '../../../platform/models/tiny-tokenizer.js';
import { windowedStreamDecoder } from '../../../platform/models/tokenizer.js';

const OPTIONS = { skip_special_tokens: true, clean_up_tokenization_spaces: false };

/**
 * A ByteLevel BPE tokenizer.json with every case the library treats specially: a hole in the ids (falls to
 * unk_token), a vocabulary string equal to a special token's text, a non-special added token (copied as it
 * is), a character outside the byte alphabet ('€'), lone UTF-8 lead and continuation bytes, a BOM.
 */
function oddTokenizerJson(unk: string | null): Record<string, unknown> {
  const vocab: Record<string, number> = {
    a: 0,
    b: 1,
    Ġ: 2,
    Ã: 3,
    '©': 4,
    '<s>': 5,
    '€': 6,
    'ï»¿': 7,
    ðŁ: 8,
    ĺĢ: 9,
    Âł: 10,
    '¿': 11,
    // 12 is a hole
    ab: 13,
  };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    normalizer: null,
    post_processor: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    added_tokens: [
      { id: 14, content: '<s>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
      { id: 15, content: '<x>', special: false, single_word: false, lstrip: false, rstrip: false, normalized: false },
      { id: 16, content: '<|end|>', special: true, single_word: false, lstrip: false, rstrip: false, normalized: false },
    ],
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: unk,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      vocab,
      merges: ['a b'],
    },
  };
}

function libraryDecode(json: Record<string, unknown>): (ids: readonly number[]) => string {
  const hf = new HfTokenizer(json, {});
  return (ids) => (ids.length === 0 ? '' : hf.decode([...ids], OPTIONS));
}

describe('byte-level decode (ByteLevel BPE tokenizer.json)', () => {
  const tiny = buildTinyTokenizer();
  const cases: [string, Record<string, unknown>, number][] = [
    ['the tiny word tokenizer', tiny.json, tiny.vocabSize],
    ['odd cases, unk_token null', oddTokenizerJson(null), 17],
    ['odd cases, unk_token "b"', oddTokenizerJson('b'), 17],
  ];

  for (const [name, json, vocabSize] of cases) {
    it(`gives the library's text for any ids: ${name}`, () => {
      const fast = byteLevelDecode(json)!;
      const library = libraryDecode(json);
      expect(fast).toBeDefined();
      // Ids near the top are the special and added tokens; low ids are single bytes, many of them partial UTF-8.
      const id = fc.oneof(
        fc.integer({ min: 0, max: vocabSize - 1 }),
        fc.integer({ min: Math.max(0, vocabSize - 6), max: vocabSize - 1 }),
        fc.integer({ min: Math.min(0x80, vocabSize - 1), max: Math.min(0xff, vocabSize - 1) }),
      );
      fc.assert(
        fc.property(fc.array(id, { maxLength: 24 }), (ids) => fast(ids) === library(ids)),
        { numRuns: 3000 },
      );
    });

    it(`streams the same pieces as the library: ${name}`, () => {
      const fast = windowedStreamDecoder(byteLevelDecode(json)!);
      const library = windowedStreamDecoder(libraryDecode(json));
      fc.assert(
        fc.property(fc.array(fc.integer({ min: 0, max: vocabSize - 1 }), { maxLength: 16 }), (ids) => {
          const a = windowedStreamDecoder(byteLevelDecode(json)!);
          const b = windowedStreamDecoder(libraryDecode(json));
          return ids.every((i) => a.push(i) === b.push(i)) && a.flush() === b.flush();
        }),
        { numRuns: 500 },
      );
      expect(fast.push(0)).toBe(library.push(0));
    });
  }

  it('covers the odd cases as the library reads them', () => {
    const fast = byteLevelDecode(oddTokenizerJson(null))!;
    // '<s>' as a vocabulary string is dropped like the special token; '<x>' is copied; the hole decodes to nothing.
    expect(fast([0, 5, 1, 14, 15, 12, 16, 13])).toBe('ab<x>ab');
    // é split over two tokens, a lone continuation byte, '€' outside the alphabet (byte 0), a kept BOM.
    expect(fast([3, 4, 11, 6, 7])).toBe('é\uFFFD\u0000\uFEFF');
    expect(byteLevelDecode(oddTokenizerJson('b'))!([12])).toBe('b');
  });

  it('declines tokenizers it does not decode exactly', () => {
    const json = oddTokenizerJson(null);
    expect(byteLevelDecode({ ...json, decoder: { type: 'Metaspace', replacement: '▁' } })).toBeUndefined();
    expect(byteLevelDecode({ ...json, decoder: null })).toBeUndefined();
    expect(byteLevelDecode({ ...json, model: { ...(json.model as object), type: 'WordPiece' } })).toBeUndefined();
    expect(byteLevelDecode({ ...json, model: { ...(json.model as object), end_of_word_suffix: '</w>' } })).toBeUndefined();
  });
});
