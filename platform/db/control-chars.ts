/**
 * Control characters in text that reaches the database. PostgreSQL refuses NUL in `text` and `jsonb` (a raw
 * database error and a 500 before this check), and no name, id or description needs C0 controls or DEL:
 * they are refused with a 400 naming the field. Free text (descriptions) may keep tab, line feed and
 * carriage return; names and ids may not.
 */
const IN_NAMES = /[\u0000-\u001f\u007f]/;
const IN_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

/** Why `value` cannot be stored, e.g. `contains the control character U+0000 at index 4`; undefined when fine. */
export function controlCharProblem(value: string, kind: 'name' | 'text' = 'name'): string | undefined {
  const match = (kind === 'name' ? IN_NAMES : IN_TEXT).exec(value);
  if (!match) return undefined;
  return `contains the control character U+${match[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')} at index ${match.index}`;
}

/** A percent-encoded or raw control character in a URL's path or query (`%00`, `%0A`, `%7F`). */
export function urlControlCharProblem(url: string): string | undefined {
  const encoded = /%(?:[01][0-9a-f]|7f)/i.exec(url);
  if (encoded) return `contains the control character ${encoded[0].toUpperCase()} at index ${encoded.index}`;
  return controlCharProblem(url);
}
