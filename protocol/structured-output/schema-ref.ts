import { invalid, unsupported, type SchemaPath } from './schema-keywords.js';

/**
 * Resolves a local `$ref` (`#`, `#/$defs/Name`, any JSON pointer into the root schema, RFC 6901 with
 * URI-fragment percent-encoding). Remote references and `$anchor` names are refused.
 */
export function resolveRef(root: unknown, ref: unknown, at: SchemaPath, param: string): { schema: unknown; path: SchemaPath } {
  if (typeof ref !== 'string') throw invalid(param, at, '$ref must be a string');
  if (ref !== '#' && !ref.startsWith('#/')) throw unsupported(param, at, `$ref "${ref}": only local JSON pointers such as "#/$defs/Name" are supported`);
  const path: (string | number)[] = [];
  let node = root;
  for (const raw of ref === '#' ? [] : ref.slice(2).split('/')) {
    let token: string;
    try {
      token = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~');
    } catch {
      throw invalid(param, at, `$ref "${ref}" is not a valid JSON pointer`);
    }
    const container = node as Record<string, unknown> | null;
    if (typeof container !== 'object' || container === null || !Object.hasOwn(container, token)) {
      throw invalid(param, at, `$ref "${ref}" points to nothing in the schema`);
    }
    node = container[token];
    path.push(Array.isArray(container) ? Number(token) : token);
  }
  return { schema: node, path };
}
