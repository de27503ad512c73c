import { byteLevelPieces } from '../../protocol/token-bytes.js';

/**
 * Decoding for a tokenizer.json whose model is BPE and whose decoder is ByteLevel (GPT-2, Qwen2, Llama 3 and
 * the tiny word tokenizer): each id's bytes are looked up once, up front, and a decode is one UTF-8 pass over
 * them. The Hugging Face library re-derives every token's bytes from its vocabulary string on every call, and
 * streaming decodes a window of ids twice per token, which made it a large share of a request's CPU.
 *
 * The answer is exactly the library's `decode(ids, { skip_special_tokens: true, clean_up_tokenization_spaces:
 * false })` for ids inside the vocabulary (test/unit/models/byte-level-decode.test.ts checks it against the
 * library): tokens are found as the library finds them (vocabulary, then added tokens over it, a hole falls to
 * `unk_token`); tokens whose text is a special token's are dropped before anything is joined; an added token's
 * text is copied as it is and ends the byte run before it; each byte run decodes on its own, invalid UTF-8 as
 * U+FFFD and a leading BOM kept; a character outside the byte alphabet counts as byte 0.
 * Returns undefined for any other kind of tokenizer.json: the caller then decodes through the library.
 */
export function byteLevelDecode(json: Readonly<Record<string, unknown>>): ((ids: readonly number[]) => string) | undefined {
  const pieces = byteLevelPieces(json);
  if (!pieces) return undefined;

  const utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });
  let run = new Uint8Array(256);
  return (ids) => {
    let text = '';
    let length = 0;
    for (const id of ids) {
      const piece = pieces[id];
      if (piece === null || piece === undefined) continue;
      if (typeof piece === 'string') {
        if (length > 0) text += utf8.decode(run.subarray(0, length));
        length = 0;
        text += piece;
        continue;
      }
      if (length + piece.length > run.length) {
        const grown = new Uint8Array(Math.max(run.length * 2, length + piece.length));
        grown.set(run.subarray(0, length));
        run = grown;
      }
      run.set(piece, length);
      length += piece.length;
    }
    if (length > 0) text += utf8.decode(run.subarray(0, length));
    return text;
  };
}
