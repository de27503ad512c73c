/**
 * A short JSON rendering of an untrusted value for error messages. Headers and config files are attacker-sized
 * (a safetensors header may be 100 MB), so the preview is capped, and a value nested too deeply for
 * `JSON.stringify` (which recurses) is described instead of throwing a RangeError.
 */
export function jsonPreview(value: unknown, maxChars = 120): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    return Array.isArray(value) ? '<deeply nested array>' : `<deeply nested ${typeof value}>`;
  }
  if (text === undefined) return String(value);
  return text.length > maxChars ? `${text.slice(0, maxChars)}… (${text.length} characters)` : text;
}
