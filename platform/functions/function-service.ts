import type { Artifact, ModelResidency } from '../../protocol/node-runtime.js';
import { TidepoolError } from '../../protocol/errors.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import type { Router } from '../router/router.js';
import { createActiveVersionCache } from './active-version-cache.js';
import { weightsDigestOf, sortFiles } from './artifact.js';
import type { FunctionCatalog, FunctionSummary, FunctionVersionRecord } from './catalog.js';
import type { FunctionTokenizer, ResolvedFunction } from './resolved-function.js';
import { assertManifest, ManifestError } from './manifest.js';
import { checkBlobsPresent, checkFileList, checkModel, type BlobReader, type ModelValidator } from './model-check.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/** Deploy, list, show, remove and (hot path) resolve functions. Routes call this and nothing below it. */
export interface FunctionService {
  deploy(body: { readonly name?: unknown; readonly manifest?: unknown; readonly files?: unknown }): Promise<DeployResult>;
  list(): Promise<readonly FunctionSummary[]>;
  show(name: string): Promise<FunctionDetails>;
  remove(name: string): Promise<void>;
  /** The active version with its tokenizer and context length; 404 `function_not_found` when unknown. */
  resolve(name: string): Promise<ResolvedFunction>;
}

export interface DeployResult {
  readonly name: string;
  readonly version: number;
  readonly weightsDigest: WeightsDigest;
  readonly sizeBytes: number;
}

export interface FunctionDetails {
  readonly name: string;
  readonly description: string;
  readonly activeVersion: number | null;
  readonly versions: readonly FunctionVersionRecord[];
  /** Where the active artifact lives on each node. */
  readonly residency: readonly (ModelResidency & { readonly nodeId: string })[];
}

export interface FunctionServiceOptions {
  readonly catalog: FunctionCatalog;
  readonly blobs: BlobReader;
  readonly router: Router;
  readonly metrics: ControlPlaneMetrics;
  readonly validateModel: ModelValidator;
  /** Builds a tokenizer from tokenizer.json text (byte-level when absent) and config.json (eos ids). */
  readonly loadTokenizer: (tokenizerJson: string | undefined, config: Record<string, unknown>) => FunctionTokenizer;
  readonly cacheTtlMs?: number;
}

interface ModelMeta {
  readonly tokenizer: FunctionTokenizer;
  readonly maxPositions: number;
  readonly vocabSize: number;
}

export function createFunctionService(options: FunctionServiceOptions): FunctionService {
  const { catalog, blobs } = options;
  const active = createActiveVersionCache({ load: (name) => catalog.getActive(name), ttlMs: options.cacheTtlMs });
  // Tokenizers and model limits by artifact digest: immutable, so cached without expiry.
  const models = new Map<string, Promise<ModelMeta>>();

  const loadMeta = (record: FunctionVersionRecord): Promise<ModelMeta> => {
    let meta = models.get(record.weightsDigest);
    if (!meta) {
      meta = readMeta(blobs, record, options.loadTokenizer);
      models.set(record.weightsDigest, meta);
      meta.catch(() => models.delete(record.weightsDigest));
    }
    return meta;
  };

  // Functions deployed with min_warm keep their weights in host memory from start-up on.
  void restoreWarmHolds(catalog, options.router).catch((error: unknown) => warnHold('(start-up)', error));

  return {
    async deploy(body) {
      try {
        const { result, meta } = await deploy(options, body);
        active.invalidate(result.name);
        // Deploy built the tokenizer to check it: the first invocation needs nothing from the store but weights.
        if (!models.has(result.weightsDigest)) models.set(result.weightsDigest, Promise.resolve(meta));
        const record = await catalog.getActive(result.name);
        // Fetching a pinned model can take minutes; the deploy answers now and the hold lands in the background.
        if (record) void applyWarmHold(options.router, record).catch((error: unknown) => warnHold(result.name, error));
        options.metrics.deploys.inc({ status: 'ok' });
        return result;
      } catch (error) {
        options.metrics.deploys.inc({ status: 'rejected' });
        throw error;
      }
    },
    list: () => catalog.list(),
    async show(name) {
      const versions = await catalog.listVersions(name);
      if (versions.length === 0) throw notFound(name);
      const current = versions.find((v) => v.active);
      const residency = current ? await residencyOf(options.router, current.weightsDigest) : [];
      return { name, description: current?.description ?? versions[0]!.description, activeVersion: current?.version ?? null, versions, residency };
    },
    async remove(name) {
      const removed = await catalog.remove(name);
      active.invalidate(name);
      if (!removed) throw notFound(name);
      await Promise.all(options.router.nodes.map((node) => node.holdWarm?.(name, undefined, 0)));
    },
    async resolve(name) {
      const record = await active.get(name);
      if (!record) throw notFound(name);
      const meta = await loadMeta(record).catch((error: unknown) => {
        if (error instanceof TidepoolError) throw error;
        const detail = error instanceof Error ? error.message : String(error);
        throw new TidepoolError('store_unavailable', `cannot read the model config of ${name} v${record.version} from the object store: ${detail}`);
      });
      const contextLength = Math.min(record.manifest.context_length ?? meta.maxPositions, meta.maxPositions);
      return {
        name,
        version: record.version,
        manifest: record.manifest,
        artifact: toArtifact(record),
        contextLength,
        vocabSize: meta.vocabSize,
        tokenizer: meta.tokenizer,
      };
    },
  };
}

/** Asks every node to hold (min_warm > 0) or release the function's active artifact in host memory. */
async function applyWarmHold(router: Router, record: FunctionVersionRecord): Promise<void> {
  const artifact = record.manifest.min_warm > 0 ? toArtifact(record) : undefined;
  await Promise.all(router.nodes.map((node) => node.holdWarm?.(record.name, artifact, record.manifest.keep_warm_ms)));
}

function warnHold(name: string, error: unknown): void {
  process.stderr.write(`tidepool: min_warm hold for ${name} failed: ${error instanceof Error ? error.message : String(error)}\n`);
}

async function restoreWarmHolds(catalog: FunctionCatalog, router: Router): Promise<void> {
  for (const summary of await catalog.list()) {
    const record = await catalog.getActive(summary.name);
    if (record && record.manifest.min_warm > 0) await applyWarmHold(router, record);
  }
}

function notFound(name: string): TidepoolError {
  return new TidepoolError('function_not_found', `function ${name} does not exist`, { param: 'model' });
}

function toArtifact(record: FunctionVersionRecord): Artifact {
  return { weightsDigest: record.weightsDigest, files: record.files, bytes: record.sizeBytes };
}

async function deploy(options: FunctionServiceOptions, body: Parameters<FunctionService['deploy']>[0]): Promise<{ result: DeployResult; meta: ModelMeta }> {
  let manifest: ReturnType<typeof assertManifest>;
  try {
    manifest = assertManifest(body.manifest);
  } catch (error) {
    if (error instanceof ManifestError) throw new TidepoolError('invalid_manifest', error.message, { param: 'manifest' });
    throw error;
  }
  if (body.name !== undefined && body.name !== manifest.name) {
    throw new TidepoolError('name_mismatch', `name ${String(body.name)} differs from manifest name ${manifest.name}`, { param: 'name' });
  }
  const files = sortFiles(checkFileList(body.files));
  await checkBlobsPresent(options.blobs, files);
  const checked = await checkModel(options.blobs, files, options.validateModel);
  const config = checked.config;
  const meta = buildMeta(checked.tokenizerText, config, options.loadTokenizer);
  const maxPositions = Number(config.max_position_embeddings);
  if (manifest.context_length !== null && Number.isFinite(maxPositions) && manifest.context_length > maxPositions) {
    throw new TidepoolError('model_mismatch', `context_length: ${manifest.context_length} exceeds the model's max_position_embeddings ${maxPositions}`, {
      param: 'manifest',
    });
  }
  const weightsDigest = weightsDigestOf(files);
  const sizeBytes = files.reduce((sum, f) => sum + f.size, 0);
  const { version } = await options.catalog.createVersion(
    { name: manifest.name, description: manifest.description, manifest, weightsDigest, files, sizeBytes },
    // Again inside the transaction: blob garbage collection may have deleted a reused blob since the check above.
    () => checkBlobsPresent(options.blobs, files),
  );
  return { result: { name: manifest.name, version, weightsDigest, sizeBytes }, meta };
}

/** Builds the tokenizer the invocations will use, refusing (422) one that fails to load or outgrows the vocabulary. */
function buildMeta(tokenizerText: string | undefined, config: Record<string, unknown>, load: FunctionServiceOptions['loadTokenizer']): ModelMeta {
  let tokenizer: FunctionTokenizer;
  try {
    tokenizer = load(tokenizerText, config);
  } catch (error) {
    throw new TidepoolError('invalid_model', `tokenizer.json: cannot be loaded: ${(error as Error).message}`, { param: 'tokenizer.json' });
  }
  const vocabSize = Number(config.vocab_size);
  if (tokenizer.vocabSize !== undefined && tokenizer.vocabSize > vocabSize) {
    throw new TidepoolError(
      'invalid_model',
      `tokenizer.json: produces ids up to ${tokenizer.vocabSize - 1}, outside the model's vocabulary of ${vocabSize} (config.json vocab_size)`,
      { param: 'tokenizer.json' },
    );
  }
  return metaOf(tokenizer, config);
}

async function readMeta(blobs: BlobReader, record: FunctionVersionRecord, load: FunctionServiceOptions['loadTokenizer']): Promise<ModelMeta> {
  const file = (name: string) => record.files.find((f) => f.name === name);
  const configFile = file('config.json');
  const tokenizerFile = file('tokenizer.json');
  if (!configFile) throw new TidepoolError('bad_model', `function ${record.name} v${record.version} lacks config.json`);
  const config = JSON.parse((await blobs.read(configFile.digest)).toString('utf8')) as Record<string, unknown>;
  const tokenizerJson = tokenizerFile ? (await blobs.read(tokenizerFile.digest)).toString('utf8') : undefined;
  return metaOf(load(tokenizerJson, config), config);
}

/** The model's limits from its config.json, with the defaults a config without them gets. */
function metaOf(tokenizer: FunctionTokenizer, config: Record<string, unknown>): ModelMeta {
  const maxPositions = Number(config.max_position_embeddings);
  const vocabSize = Number(config.vocab_size);
  return {
    tokenizer,
    maxPositions: Number.isFinite(maxPositions) && maxPositions > 0 ? maxPositions : 2048,
    vocabSize: Number.isSafeInteger(vocabSize) && vocabSize > 0 ? vocabSize : (tokenizer.tokenBytes?.length ?? 256),
  };
}

async function residencyOf(router: Router, weightsDigest: WeightsDigest): Promise<FunctionDetails['residency']> {
  const perNode = await Promise.all(
    router.nodes.map(async (node) => {
      const models = await node.residency().catch(() => []);
      return models.filter((m) => m.weightsDigest === weightsDigest).map((m) => ({ ...m, nodeId: node.nodeId }));
    }),
  );
  return perNode.flat();
}
