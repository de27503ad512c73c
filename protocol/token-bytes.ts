/**
 * What each token id of a tokenizer contributes to the output's bytes, read from the model's tokenizer.json
 * (or the byte-level scheme when a model has none). The control plane uses it for logprobs (`bytes`, token
 * strings) and the node for the engine's `vocab` command (constrained decoding walks these bytes through a
 * byte automaton), so it lives on the shared floor.
 *
 * Supported: BPE models with a ByteLevel decoder (GPT-2, Qwen2, Llama 3 and the synthesized tiny
 * tokenizer), which is every tokenizer `tidepool synth` writes, and tokenizer-less byte-level models (id =
 * byte value, 0-255). Any other tokenizer.json gives undefined: its functions cannot serve constrained
 * decoding, and logprobs decode each token through the library instead.
 */

/** One id's contribution: its bytes, an added token's text (copied verbatim), or null (special, or no token). */
export type TokenPiece = Uint8Array | string | null;

/** GPT-2's byte ↔ printable-character table of ByteLevel tokenizers: index = byte, value = its symbol. */
export function byteToUnicodeTable(): readonly string[] {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const table: string[] = [];
  let next = 256;
  for (let b = 0; b < 256; b++) table.push(String.fromCodePoint(printable(b) ? b : next++));
  return table;
}

/**
 * Per id, as the Hugging Face library decodes a ByteLevel BPE tokenizer with `skip_special_tokens`: tokens
 * are found in the vocabulary, then added tokens over it, a hole falls to `unk_token`; special tokens are
 * null; other added tokens are their text; a character outside the byte alphabet counts as byte 0.
 * Undefined for any other kind of tokenizer.json.
 */
export function byteLevelPieces(json: Readonly<Record<string, unknown>>): TokenPiece[] | undefined {
  const model = json.model as { type?: unknown; vocab?: unknown; unk_token?: unknown; end_of_word_suffix?: unknown } | null | undefined;
  const decoder = json.decoder as { type?: unknown } | null | undefined;
  if (model?.type !== 'BPE' || decoder?.type !== 'ByteLevel' || model.end_of_word_suffix) return undefined;
  if (typeof model.vocab !== 'object' || model.vocab === null || Array.isArray(model.vocab)) return undefined;
  const added = Array.isArray(json.added_tokens) ? (json.added_tokens as { id: number; content: string; special?: boolean }[]) : [];
  const tokens: unknown[] = [];
  for (const [token, id] of Object.entries(model.vocab as Record<string, number>)) tokens[id] = token;
  for (const token of added) tokens[token.id] = token.content;
  const specials = new Set(added.filter((t) => t.special).map((t) => t.content));
  const verbatim = new Set(added.map((t) => t.content));
  const unicodeToByte = new Map(byteToUnicodeTable().map((symbol, byte) => [symbol, byte]));
  const unk = model.unk_token;
  const pieces: TokenPiece[] = [];
  for (let id = 0; id < tokens.length; id++) {
    const token = tokens[id] ?? unk;
    if (typeof token !== 'string' || specials.has(token)) pieces.push(null);
    else if (verbatim.has(token)) pieces.push(token);
    else pieces.push(Uint8Array.from([...token], (symbol) => unicodeToByte.get(symbol) ?? 0));
  }
  return pieces;
}

/**
 * Every id's bytes (an added token's text as UTF-8; null: a special token or a hole) over `vocabSize` ids,
 * the model's vocabulary (it may be larger than the tokenizer's: the extra ids have no bytes). Undefined
 * when the tokenizer is not a supported kind. `tokenizerJson` undefined: the byte-level scheme.
 */
export function tokenBytes(tokenizerJson: Readonly<Record<string, unknown>> | undefined, vocabSize: number): (Uint8Array | null)[] | undefined {
  const out: (Uint8Array | null)[] = new Array(vocabSize).fill(null);
  if (tokenizerJson === undefined) {
    for (let id = 0; id < Math.min(256, vocabSize); id++) out[id] = Uint8Array.of(id);
    return out;
  }
  const pieces = byteLevelPieces(tokenizerJson);
  if (!pieces) return undefined;
  const utf8 = new TextEncoder();
  for (let id = 0; id < Math.min(pieces.length, vocabSize); id++) {
    const piece = pieces[id];
    out[id] = typeof piece === 'string' ? utf8.encode(piece) : (piece ?? null);
  }
  return out;
}
