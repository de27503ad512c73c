import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { byteLevelDecode } from './byte-level-decode.js';

/**
 * Text ↔ token ids for a model directory. Two kinds:
 * - `tokenizer.json`: the Hugging Face tokenizer in the directory (BPE, WordPiece, ...).
 * - `byte-level`: no tokenizer.json. Id = UTF-8 byte value (0..255); ids ≥ 256 are valid model outputs
 *   but decode to nothing. The reference fixtures (vocab 320) use this.
 * End-of-sequence ids come from config.json's `eos_token_id`, the file deploy uploads with the weights.
 */
export interface Tokenizer {
  readonly kind: 'tokenizer.json' | 'byte-level';
  /** Number of ids the tokenizer can produce or accept (the model's vocabulary may be larger). */
  readonly vocabSize: number;
  readonly eosTokenId?: number;
  /** Every end-of-sequence id (config.json may list several); pass these as stop ids. */
  readonly stopTokenIds: readonly number[];
  /** Encodes text as-is: no BOS or other special tokens are added. */
  encode(text: string): number[];
  /** Decodes ids, skipping special tokens; incomplete UTF-8 at the end becomes U+FFFD. */
  decode(ids: readonly number[]): string;
  /** A decoder for a token stream that only ever emits whole characters. */
  createDecoder(): StreamDecoder;
}

export interface StreamDecoder {
  /** Adds one id; returns the text it completes (often '', e.g. mid-character). */
  push(id: number): string;
  /** Ends the stream; returns what is still held back (an incomplete character decodes as U+FFFD). */
  flush(): string;
}

const BYTE_VOCAB = 256;

export function byteLevelTokenizer(options: { vocabSize?: number; eosTokenIds?: readonly number[] } = {}): Tokenizer {
  const stopTokenIds = Object.freeze([...(options.eosTokenIds ?? [])]);
  const bytesOf = (ids: readonly number[]): Uint8Array => Uint8Array.from(ids.filter((id) => id >= 0 && id < BYTE_VOCAB));
  return Object.freeze({
    kind: 'byte-level' as const,
    vocabSize: Math.max(options.vocabSize ?? BYTE_VOCAB, BYTE_VOCAB),
    ...(stopTokenIds.length > 0 ? { eosTokenId: stopTokenIds[0] } : {}),
    stopTokenIds,
    encode: (text: string) => [...new TextEncoder().encode(text)],
    decode: (ids: readonly number[]) => new TextDecoder().decode(bytesOf(ids)),
    createDecoder(): StreamDecoder {
      // TextDecoder's streaming mode holds back a partial UTF-8 sequence until its last byte arrives.
      const decoder = new TextDecoder();
      return {
        push: (id) => (id >= 0 && id < BYTE_VOCAB ? decoder.decode(Uint8Array.of(id), { stream: true }) : ''),
        flush: () => decoder.decode(),
      };
    },
  });
}

/**
 * Streams text out of a whole-sequence decoder. Decoding a window of recent ids (rather than each id alone)
 * keeps context-dependent pieces right, e.g. leading spaces and multi-token characters; a window whose text
 * ends in U+FFFD is an unfinished character and is held back.
 */
export function windowedStreamDecoder(decode: (ids: readonly number[]) => string): StreamDecoder {
  const ids: number[] = [];
  let prefixStart = 0;
  let readStart = 0;
  return {
    push(id: number): string {
      ids.push(id);
      const before = decode(ids.slice(prefixStart, readStart));
      const after = decode(ids.slice(prefixStart));
      if (after.length <= before.length || after.endsWith('\uFFFD')) return '';
      prefixStart = readStart;
      readStart = ids.length;
      return after.slice(before.length);
    },
    flush(): string {
      const before = decode(ids.slice(prefixStart, readStart));
      const after = decode(ids.slice(prefixStart));
      prefixStart = readStart = ids.length;
      return after.slice(before.length);
    },
  };
}

export function tokenizerFromJson(json: Record<string, unknown>, options: { eosTokenIds?: readonly number[] } = {}): Tokenizer {
  const hf = new HfTokenizer(json, {});
  const vocabSize = Math.max(...hf.get_vocab(true).values()) + 1;
  const stopTokenIds = Object.freeze([...(options.eosTokenIds ?? [])]);
  // ByteLevel BPE (every synthesized and most real tokenizers) decodes from per-id bytes; others through the library.
  const fast = byteLevelDecode(json);
  const decode = (ids: readonly number[]): string => {
    const known = ids.filter((id) => Number.isSafeInteger(id) && id >= 0 && id < vocabSize);
    if (fast) return fast(known);
    // The library refuses an empty list; ids outside the vocabulary decode to nothing, as in byte-level.
    return known.length === 0 ? '' : hf.decode(known, { skip_special_tokens: true, clean_up_tokenization_spaces: false });
  };
  return Object.freeze({
    kind: 'tokenizer.json' as const,
    vocabSize,
    ...(stopTokenIds.length > 0 ? { eosTokenId: stopTokenIds[0] } : {}),
    stopTokenIds,
    encode: (text: string) => hf.encode(text, { add_special_tokens: false }).ids,
    decode,
    createDecoder: () => windowedStreamDecoder(decode),
  });
}

async function readJsonIfPresent(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new Error(`${path}: ${(error as Error).message}`);
  }
}

function eosIdsOf(config: Record<string, unknown> | undefined): number[] {
  const raw = config?.eos_token_id;
  const ids = Array.isArray(raw) ? raw : raw === undefined || raw === null ? [] : [raw];
  return ids.filter((id): id is number => Number.isSafeInteger(id) && id >= 0);
}

/** Loads the tokenizer for a model directory (tokenizer.json if present, otherwise byte-level). */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const config = await readJsonIfPresent(join(dir, 'config.json'));
  const eosTokenIds = eosIdsOf(config);
  const json = await readJsonIfPresent(join(dir, 'tokenizer.json'));
  if (json) return tokenizerFromJson(json, { eosTokenIds });
  const vocabSize = typeof config?.vocab_size === 'number' ? config.vocab_size : undefined;
  return byteLevelTokenizer({ eosTokenIds, ...(vocabSize !== undefined ? { vocabSize } : {}) });
}
