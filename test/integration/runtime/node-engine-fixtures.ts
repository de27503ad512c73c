// Shared by the node runtime tests that drive the real engine binary (CPU backend) on the committed tiny
// fixture models: fixtures uploaded as blobs the way `tidepool deploy` stores them, their transformers
// references, and small helpers for reading a generation.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import { digestOf, putBlob, storeBlobSource } from '../../../platform/storage/blob-store.js';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import { createLocalNodeRuntime, type LocalNodeRuntime } from '../../../runtime/node.js';
import type { LocalNodeRuntimeOptions } from '../../../runtime/node-options.js';
import type { Artifact, NodeEvent, NodeGenerateRequest } from '../../../protocol/node-runtime.js';
import { waitFor } from '../../helpers/wait-for.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { digest } from '../../helpers/weights-digest.js';

export const repo = fileURLToPath(new URL('../../../', import.meta.url));
export const engineBin = process.env.TIDEPOOL_ENGINE_BIN ?? join(repo, 'cuda/build/tidepool-engine');
export const fixtures = join(repo, 'test/fixtures');
export const skipReason = existsSync(engineBin) ? undefined : `engine binary not built at ${engineBin} (run node scripts/build-engine.mjs)`;

export interface Reference {
  readonly prompt: number[];
  readonly greedy: number[];
}

/** Uploads a fixture model's files as blobs, as `tidepool deploy` does, and returns its artifact. */
export async function fixtureArtifact(store: FsObjectStore, name: string): Promise<Artifact> {
  const dir = join(fixtures, 'models', name);
  const files = [];
  for (const file of (await readdir(dir)).sort()) {
    const bytes = await readFile(join(dir, file));
    await putBlob(store, digestOf(bytes), bytes);
    files.push({ name: file, digest: digestOf(bytes), size: bytes.length });
  }
  const bytes = files.reduce((total, f) => total + f.size, 0);
  return { weightsDigest: digest(digestOf(Buffer.from(files.map((f) => `${f.name}\n${f.digest}`).join('\n')))), files, bytes };
}

export async function reference(name: string): Promise<Reference> {
  return JSON.parse(await readFile(join(fixtures, 'reference', `${name}.json`), 'utf8')) as Reference;
}

export function request(id: string, artifact: Artifact, ref: Reference, fields: Partial<NodeGenerateRequest> = {}): NodeGenerateRequest {
  return {
    id,
    functionName: `fn-${id}`,
    version: 1,
    artifact,
    promptTokens: ref.prompt,
    sampling: samplingWith({ max_tokens: ref.greedy.length }),
    stopTokenIds: [],
    slo: { ttftMs: 5_000, tpotMs: 1_000 },
    keepWarmMs: 60_000,
    ...fields,
  };
}

export async function collect(events: AsyncIterable<NodeEvent>): Promise<NodeEvent[]> {
  const out: NodeEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

export const tokensOf = (events: readonly NodeEvent[]) => events.flatMap((e) => (e.type === 'token' ? [e.token] : []));

/** Polls `probe` every 25 ms until it returns true; fails after `ms`, naming `what`. */
export async function eventually(what: string, probe: () => Promise<boolean>, ms = 30_000): Promise<void> {
  await waitFor(probe, { timeoutMs: ms, intervalMs: 25, message: what });
}

/** A local node on the real CPU engine with both tiny fixtures uploaded to its store, in a fresh temp dir. */
export interface FixtureNode {
  readonly node: LocalNodeRuntime;
  readonly llama: Artifact;
  readonly qwen: Artifact;
  readonly llamaRef: Reference;
  readonly qwenRef: Reference;
  close(): Promise<void>;
}

export async function startFixtureNode(prefix: string, options: Partial<LocalNodeRuntimeOptions> = {}): Promise<FixtureNode> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  const store = new FsObjectStore(join(root, 'objects'));
  const [llama, qwen, llamaRef, qwenRef] = await Promise.all([
    fixtureArtifact(store, 'tiny-llama'),
    fixtureArtifact(store, 'tiny-qwen2'),
    reference('tiny-llama'),
    reference('tiny-qwen2'),
  ]);
  const node = await createLocalNodeRuntime({
    fetchBlob: storeBlobSource(store),
    shmDir: join(root, 'shm'),
    hostPoolBytes: 64 << 20,
    engineBin,
    backend: 'cpu',
    engineMemoryBytes: 256 << 20,
    engineThreads: 1,
    queueLimit: 8,
    queueTimeoutMs: 30_000,
    registry: new Registry(),
    ...options,
  });
  return {
    node,
    llama,
    qwen,
    llamaRef,
    qwenRef,
    async close() {
      await node.close();
      await rm(root, { recursive: true, force: true });
    },
  };
}
