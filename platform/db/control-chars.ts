/**
 * Control characters in text that reaches the database. PostgreSQL refuses NUL in `text` and `jsonb` (a raw
 * database error and a 500 before this check), and no name, id or description needs C0 controls or DEL:
 * they are refused with a 400 naming the field. Free text (descriptions) may keep tab, line feed and
 * carriage return; names and ids may not.
 */
const DEL = 0x7f;
/** Tab, line feed and carriage return: the controls free text may hold. */
const TEXT_WHITESPACE: ReadonlySet<number> = new Set([0x09, 0x0a, 0x0d]);

function isRefused(code: number, kind: 'name' | 'text'): boolean {
  if (code > 0x1f && code !== DEL) return false;
  return kind === 'name' || !TEXT_WHITESPACE.has(code);
}

/** Why `value` cannot be stored, e.g. `contains the control character U+0000 at index 4`; undefined when fine. */
export function controlCharProblem(value: string, kind: 'name' | 'text' = 'name'): string | undefined {
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index);
    if (isRefused(code, kind)) return `contains the control character U+${code.toString(16).toUpperCase().padStart(4, '0')} at index ${index}`;
  }
  return undefined;
}

/** A percent-encoded or raw control character in a URL's path or query (`%00`, `%0A`, `%7F`). */
export function urlControlCharProblem(url: string): string | undefined {
  const encoded = /%(?:[01][0-9a-f]|7f)/i.exec(url);
  if (encoded) return `contains the control character ${encoded[0].toUpperCase()} at index ${encoded.index}`;
  return controlCharProblem(url);
}
