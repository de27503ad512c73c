import { StructuredOutputError } from './structured-output-error.js';

/** Bounds on the schema document itself, checked before anything is compiled. */
export interface SchemaShapeLimits {
  /** JSON values in the schema (objects, arrays, strings, numbers... each counts one). */
  readonly maxNodes: number;
  /** Nesting of JSON containers in the schema document. */
  readonly maxDepth: number;
}

export const DEFAULT_SCHEMA_SHAPE_LIMITS: SchemaShapeLimits = Object.freeze({ maxNodes: 20_000, maxDepth: 64 });

/** Walks the document without recursion (a hostile nesting cannot overflow the stack) and refuses it at the first bound crossed. */
export function checkSchemaShape(schema: unknown, param: string, limits: SchemaShapeLimits = DEFAULT_SCHEMA_SHAPE_LIMITS): void {
  const stack: [unknown, number][] = [[schema, 1]];
  let nodes = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (++nodes > limits.maxNodes) {
      throw new StructuredOutputError('schema_too_large', param, `schema too large: more than ${limits.maxNodes} JSON values`);
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth > limits.maxDepth) {
      throw new StructuredOutputError('schema_too_large', param, `schema too large: nested deeper than ${limits.maxDepth} levels`);
    }
    for (const child of Object.values(value)) stack.push([child, depth + 1]);
  }
}
