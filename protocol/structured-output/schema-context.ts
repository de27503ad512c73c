import type { Grammar } from './grammar.js';
import type { JsonStyle } from './json-style.js';
import type { SchemaPath } from './schema-keywords.js';

/** What the per-keyword compilers need from the schema compiler: the style, the param for errors, and recursion. */
export interface SchemaContext {
  readonly style: JsonStyle;
  readonly param: string;
  /** Compiles the sub-schema `node` found at `path` (memoised per path). */
  compile(node: unknown, path: SchemaPath): Grammar;
}
