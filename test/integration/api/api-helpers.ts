import { eachChoice } from '../../helpers/each-choice.js';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobService } from '../../../platform/functions/blob-service.js';
import { TidepoolError } from '../../../protocol/errors.js';
import { collectModelFiles, type ArtifactFileEntry } from '../../../platform/functions/artifact.js';
import type { NodeError, ModelResidency, NodeEvent, NodeGenerateRequest, NodeRuntime } from '../../../protocol/node-runtime.js';

export const FIXTURE_QWEN = join(import.meta.dirname, '../../fixtures/models/tiny-qwen2');

/** Blobs in a Map, verifying digests like the real store does; for route tests that need no disk. */
export function memoryBlobs(): BlobService & { readonly map: Map<string, Buffer> } {
  const map = new Map<string, Buffer>();
  const written = new Map<string, Date>();
  return {
    map,
    size: async (digest) => map.get(digest)?.length,
    list: async () => [...map].map(([digest, bytes]) => ({ digest, size: bytes.length, lastModified: written.get(digest) ?? new Date(0) })),
    delete: async (digest) => {
      map.delete(digest);
      written.delete(digest);
    },
    read: async (digest, range) => {
      const body = map.get(digest);
      if (!body) throw new Error(`no blob ${digest}`);
      return range ? body.subarray(range.start, range.end) : body;
    },
    async put(digest: string, body: AsyncIterable<Buffer>) {
      const chunks: Buffer[] = [];
      for await (const chunk of body) chunks.push(chunk);
      const bytes = Buffer.concat(chunks);
      const actual = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (actual !== digest) throw new TidepoolError('digest_mismatch', `body hashes to ${actual}, not ${digest}`);
      map.set(digest, bytes);
      written.set(digest, new Date());
    },
  };
}

/**
 * A node that "generates" the bytes of `text` in a loop (byte-level tokenizer ids), one per tick, so route
 * behaviour (streaming, stop strings, limits, disconnects) is testable without an engine.
 */
export function scriptedNode(options: { text?: string; failWith?: NodeError; failAfter?: number; tokenDelayMs?: number } = {}): NodeRuntime & {
  readonly requests: NodeGenerateRequest[];
  cancelled: number;
} {
  const bytes = [...Buffer.from(options.text ?? ' hello world')];
  const node = {
    nodeId: 'scripted-node',
    requests: [] as NodeGenerateRequest[],
    cancelled: 0,
    async *generate(request: NodeGenerateRequest, signal?: AbortSignal): AsyncGenerator<NodeEvent> {
      node.requests.push(request);
      if (options.failWith) throw options.failWith;
      yield* eachChoice(request, async function* (): AsyncGenerator<NodeEvent> {
        for (let i = 0; i < request.sampling.max_tokens; i++) {
          await new Promise((r) => setTimeout(r, options.tokenDelayMs ?? 0));
          if (signal?.aborted) {
            node.cancelled++;
            yield { type: 'done', reason: 'cancelled', promptTokens: request.promptTokens.length, completionTokens: i };
            return;
          }
          if (options.failAfter !== undefined && i === options.failAfter) {
            yield {
              type: 'done',
              reason: 'error',
              promptTokens: request.promptTokens.length,
              completionTokens: i,
              error: { code: 'internal', message: 'engine exploded' },
            };
            return;
          }
          yield { type: 'token', token: bytes[i % bytes.length]! };
        }
        yield { type: 'done', reason: 'length', promptTokens: request.promptTokens.length, completionTokens: request.sampling.max_tokens };
      });
    },
    async residency(): Promise<readonly ModelResidency[]> {
      return [];
    },
    async close() {},
  };
  return node;
}

/** Uploads a model folder's files into `blobs` and returns the deploy body's file list. */
export async function putModelFiles(blobs: BlobService, dir: string): Promise<ArtifactFileEntry[]> {
  const files = await collectModelFiles(dir);
  const { Readable } = await import('node:stream');
  for (const f of files) await blobs.put(f.digest, Readable.from([await readFile(join(dir, f.name))]));
  return files;
}
