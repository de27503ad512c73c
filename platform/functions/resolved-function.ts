import type { Artifact } from '../../protocol/node-runtime.js';
import type { FunctionManifest } from './manifest.js';
import type { ChatFamily } from '../models/chat-family.js';

/** What the invoke path needs of a tokenizer; `platform/models/tokenizer.ts` provides it. */
export interface FunctionTokenizer {
  encode(text: string): number[];
  /** End-of-sequence ids: the engine stops on them and they never reach the text. */
  readonly stopTokenIds: readonly number[];
  /** Incremental ids → text that only ever emits whole characters. */
  createDecoder(): { push(id: number): string; flush(): string };
  /** One past the largest id `encode` can produce; deploy refuses a tokenizer larger than the model's vocabulary. */
  readonly vocabSize?: number;
  /**
   * What each id contributes to the text's bytes (`protocol/token-bytes.ts`; null: a special token, or no
   * token), over the model's vocabulary; undefined for a tokenizer whose bytes cannot be read (no constrained
   * decoding, and logprob token strings come from `decode`).
   */
  readonly tokenBytes?: readonly (Uint8Array | null)[];
  /** Decodes ids (special tokens skipped). */
  decode(ids: readonly number[]): string;
  /** The chat format its special tokens name (`platform/models/chat-family.ts`); absent: Tidepool's own. */
  readonly chatFamily?: ChatFamily;
}

/** A function's active version, resolved for the hot path. */
export interface ResolvedFunction {
  readonly name: string;
  readonly version: number;
  readonly manifest: FunctionManifest;
  readonly artifact: Artifact;
  /** min(manifest context_length, model max_position_embeddings). */
  readonly contextLength: number;
  /** The model's vocabulary size (config.json `vocab_size`): token ids in a request must be below it. */
  readonly vocabSize: number;
  readonly tokenizer: FunctionTokenizer;
}
