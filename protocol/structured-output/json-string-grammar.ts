import { alt, byteOf, byteRanges, literal, repeat, seq, type Grammar } from './grammar.js';

/**
 * One character of a JSON string body: an unescaped code point as well-formed UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), or an escape. `\u` escapes of surrogates (D800-DFFF) are
 * left out, so every character is exactly one code point: `minLength`/`maxLength` (which count code points)
 * are then exact, and the text never decodes to a lone surrogate.
 */
export const JSON_STRING_CHAR: Grammar = (() => {
  const cont = byteRanges([0x80, 0xbf]);
  const ascii = byteRanges([0x20, 0x21], [0x23, 0x5b], [0x5d, 0x7f]);
  const twoByte = seq(byteRanges([0xc2, 0xdf]), cont);
  const threeByte = alt(
    seq(byteOf('\xe0'), byteRanges([0xa0, 0xbf]), cont),
    seq(byteRanges([0xe1, 0xec], [0xee, 0xef]), cont, cont),
    seq(byteOf('\xed'), byteRanges([0x80, 0x9f]), cont),
  );
  const fourByte = alt(
    seq(byteOf('\xf0'), byteRanges([0x90, 0xbf]), cont, cont),
    seq(byteRanges([0xf1, 0xf3]), cont, cont, cont),
    seq(byteOf('\xf4'), byteRanges([0x80, 0x8f]), cont, cont),
  );
  const hex = byteRanges([0x30, 0x39], [0x41, 0x46], [0x61, 0x66]);
  const notD = byteRanges([0x30, 0x39], [0x41, 0x43], [0x45, 0x46], [0x61, 0x63], [0x65, 0x66]);
  const unicodeEscape = seq(byteOf('u'), alt(seq(notD, hex, hex, hex), seq(byteRanges([0x44, 0x44], [0x64, 0x64]), byteRanges([0x30, 0x37]), hex, hex)));
  const simpleEscape = byteRanges([0x22, 0x22], [0x2f, 0x2f], [0x5c, 0x5c], [0x62, 0x62], [0x66, 0x66], [0x6e, 0x6e], [0x72, 0x72], [0x74, 0x74]);
  const escaped = seq(byteOf('\\'), alt(simpleEscape, unicodeEscape));
  return alt(ascii, twoByte, threeByte, fourByte, escaped);
})();

const QUOTE = literal('"');

/** A JSON string of `minLength` to `maxLength` code points (maxLength may be Infinity). */
export function jsonString(minLength = 0, maxLength = Infinity): Grammar {
  return minLength === 0 && maxLength === Infinity ? ANY_STRING : seq(QUOTE, repeat(JSON_STRING_CHAR, minLength, maxLength), QUOTE);
}

const ANY_STRING = seq(QUOTE, repeat(JSON_STRING_CHAR, 0, Infinity), QUOTE);
