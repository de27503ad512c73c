import { CHAT_ROLES } from './chat-template.js';
import { TINY_WORDS } from './tiny-words.js';
import { byteToUnicodeTable } from '../../protocol/token-bytes.js';

/**
 * Builds the byte-level BPE tokenizer.json that `tidepool synth tiny` writes. Ids 0..255 are the 256 bytes
 * (so id = byte value, as in the byte-level fallback tokenizer), then every prefix of every word in
 * `TINY_WORDS`, with and without a leading space, then the chat-template special tokens. Any text encodes
 * (unknown words fall back to shorter pieces and bytes) and any id sequence decodes.
 */

export interface TinyTokenizer {
  /** The tokenizer.json object, in Hugging Face `tokenizers` format. */
  readonly json: Record<string, unknown>;
  readonly vocabSize: number;
  readonly eosTokenId: number;
  /** Ids of whole words preceded by a space; synth favours them so random answers read as words. */
  readonly wordTokenIds: readonly number[];
}

/** `<|end|>` closes every chat message, and is the model's end-of-sequence token. */
export const END_TOKEN = '<|end|>';

/** Text in GPT-2's reversible byte → printable-character alphabet, which byte-level BPE vocabularies are written in. */
function toByteLevel(text: string, table: readonly string[]): string {
  return [...new TextEncoder().encode(text)].map((b) => table[b]).join('');
}

export function buildTinyTokenizer(): TinyTokenizer {
  const table = byteToUnicodeTable();
  const vocab = new Map<string, number>(table.map((symbol, id) => [symbol, id]));
  // Space-prefixed merges rank first, shortest prefixes first, so a word after a space always grows from
  // its first letter into the longest known prefix.
  const spaced = TINY_WORDS.map((w) => [...toByteLevel(` ${w}`, table)]);
  const bare = TINY_WORDS.map((w) => [...toByteLevel(w, table)]);
  const merges: string[] = [];
  for (const group of [spaced, bare]) {
    const longest = Math.max(...group.map((symbols) => symbols.length));
    for (let length = 2; length <= longest; length++) {
      for (const symbols of group) {
        if (symbols.length < length) continue;
        const token = symbols.slice(0, length).join('');
        if (vocab.has(token)) continue;
        vocab.set(token, vocab.size);
        merges.push(`${symbols.slice(0, length - 1).join('')} ${symbols[length - 1]}`);
      }
    }
  }
  const specials = [END_TOKEN, ...CHAT_ROLES.map((role) => `<|${role}|>`)];
  const addedTokens = specials.map((content, i) => ({
    id: vocab.size + i,
    content,
    single_word: false,
    lstrip: false,
    rstrip: false,
    normalized: false,
    special: true,
  }));
  const wordTokenIds = spaced.map((symbols) => vocab.get(symbols.join(''))!);
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: null,
    decoder: byteLevel,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
  return { json, vocabSize: vocab.size + specials.length, eosTokenId: addedTokens[0].id, wordTokenIds };
}
