import type { Artifact } from '../../protocol/node-runtime.js';
import type { FunctionManifest } from './manifest.js';

/** What the invoke path needs of a tokenizer; `platform/models/tokenizer.ts` provides it. */
export interface FunctionTokenizer {
  encode(text: string): number[];
  /** End-of-sequence ids: the engine stops on them and they never reach the text. */
  readonly stopTokenIds: readonly number[];
  /** Incremental ids → text that only ever emits whole characters. */
  createDecoder(): { push(id: number): string; flush(): string };
}

/** A function's active version, resolved for the hot path. */
export interface ResolvedFunction {
  readonly name: string;
  readonly version: number;
  readonly manifest: FunctionManifest;
  readonly artifact: Artifact;
  /** min(manifest context_length, model max_position_embeddings). */
  readonly contextLength: number;
  readonly tokenizer: FunctionTokenizer;
}
