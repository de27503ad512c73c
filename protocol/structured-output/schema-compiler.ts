import { alt, NOTHING, type Grammar } from './grammar.js';
import { DEFAULT_JSON_STYLE, type JsonStyle } from './json-style.js';
import { anyJsonValue, JSON_BOOLEAN, JSON_NULL } from './json-value-grammar.js';
import { arrayGrammar } from './schema-array.js';
import type { SchemaContext } from './schema-context.js';
import { enumGrammar } from './schema-enum.js';
import {
  checkAlone,
  checkKeywords,
  invalid,
  isSchemaObject,
  readTypes,
  unsupported,
  type JsonType,
  type SchemaObject,
  type SchemaPath,
} from './schema-keywords.js';
import { objectGrammar } from './schema-object.js';
import { integerGrammar, numberGrammar, stringGrammar } from './schema-scalars.js';
import { checkSchemaShape, DEFAULT_SCHEMA_SHAPE_LIMITS, type SchemaShapeLimits } from './schema-shape.js';
import { resolveRef } from './schema-ref.js';
import { jsonPointer } from './structured-output-error.js';

export interface SchemaToGrammarOptions {
  /** The request field the schema came from, for errors (e.g. `response_format.json_schema.schema`). */
  readonly param: string;
  readonly style?: JsonStyle;
  readonly shapeLimits?: SchemaShapeLimits;
}

/** A JSON Schema → the grammar of its valid JSON texts in the style (see docs/structured-outputs.md). */
export function schemaToGrammar(schema: unknown, options: SchemaToGrammarOptions): Grammar {
  checkSchemaShape(schema, options.param, options.shapeLimits ?? DEFAULT_SCHEMA_SHAPE_LIMITS);
  return new SchemaCompiler(schema, options.style ?? DEFAULT_JSON_STYLE, options.param).compile(schema, []);
}

class SchemaCompiler implements SchemaContext {
  /** Per JSON pointer: a `$ref` used many times is compiled once and shared. */
  private readonly done = new Map<string, Grammar>();
  /** Pointers being compiled: meeting one again through a `$ref` is recursion. */
  private readonly open = new Set<string>();

  constructor(
    private readonly root: unknown,
    readonly style: JsonStyle,
    readonly param: string,
  ) {}

  compile(node: unknown, path: SchemaPath): Grammar {
    const pointer = jsonPointer(path);
    const known = this.done.get(pointer);
    if (known) return known;
    this.open.add(pointer);
    const grammar = this.compileNode(node, path);
    this.open.delete(pointer);
    this.done.set(pointer, grammar);
    return grammar;
  }

  private compileNode(node: unknown, path: SchemaPath): Grammar {
    if (node === true) return anyJsonValue(this.style, this.style.anyValueDepth);
    if (node === false) return NOTHING;
    if (!isSchemaObject(node)) throw invalid(this.param, path, 'a schema must be an object or a boolean');
    checkKeywords(node, path, this.param);
    if ('$ref' in node) return this.ref(node, path);
    if ('anyOf' in node) return this.anyOf(node, path);
    if ('allOf' in node) return this.allOf(node, path);
    if ('enum' in node || 'const' in node) return enumGrammar(this, node, path);
    return alt(
      ...readTypes(node, path, this.param)
        .filter((t) => !(t === 'integer' && includesNumber(node)))
        .map((t) => this.typed(t, node, path)),
    );
  }

  private typed(type: JsonType, schema: SchemaObject, path: SchemaPath): Grammar {
    switch (type) {
      case 'null':
        return JSON_NULL;
      case 'boolean':
        return JSON_BOOLEAN;
      case 'string':
        return stringGrammar(schema, path, this.param);
      case 'integer':
        return integerGrammar(schema, path, this.param);
      case 'number':
        return numberGrammar(schema, path, this.param);
      case 'array':
        return arrayGrammar(this, schema, path);
      case 'object':
        return objectGrammar(this, schema, path);
    }
  }

  private ref(schema: SchemaObject, path: SchemaPath): Grammar {
    checkAlone(schema, '$ref', [], path, this.param);
    const target = resolveRef(this.root, schema.$ref, [...path, '$ref'], this.param);
    if (this.open.has(jsonPointer(target.path))) {
      throw unsupported(
        this.param,
        [...path, '$ref'],
        `recursive schema: "${String(schema.$ref)}" refers back to a schema that contains it; recursion cannot be bounded by a finite automaton`,
      );
    }
    return this.compile(target.schema, target.path);
  }

  private anyOf(schema: SchemaObject, path: SchemaPath): Grammar {
    checkAlone(schema, 'anyOf', [], path, this.param);
    const options = schema.anyOf;
    if (!Array.isArray(options) || options.length === 0) throw invalid(this.param, [...path, 'anyOf'], 'anyOf must be a non-empty array of schemas');
    return alt(...options.map((option, i) => this.compile(option, [...path, 'anyOf', i])));
  }

  /** A one-element allOf (what some generators wrap a `$ref` in) is that element; a real intersection is refused. */
  private allOf(schema: SchemaObject, path: SchemaPath): Grammar {
    checkAlone(schema, 'allOf', [], path, this.param);
    const parts = schema.allOf;
    if (!Array.isArray(parts) || parts.length === 0) throw invalid(this.param, [...path, 'allOf'], 'allOf must be a non-empty array of schemas');
    if (parts.length > 1) throw unsupported(this.param, [...path, 'allOf'], 'allOf with more than one schema is not supported');
    return this.compile(parts[0], [...path, 'allOf', 0]);
  }
}

/** `["integer", "number"]` is just numbers (every integer is one). */
function includesNumber(schema: SchemaObject): boolean {
  return Array.isArray(schema.type) && schema.type.includes('number');
}
