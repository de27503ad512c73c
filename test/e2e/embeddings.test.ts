import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiClient } from '../../cli/api-client.js';
import { deployFunction } from '../../cli/deploy-function.js';
import { prepareFunctionDir } from '../../cli/function-dir.js';
import { ENGINE_BUILT, startE2eServer, type E2eServer } from './e2e-server.js';
import { ROOT } from './run-cli.js';

// /v1/embeddings with the official openai client: a function deployed with `task: embed` over the tiny
// Qwen2 reference model answers what Hugging Face transformers computes (test/fixtures/embeddings, made by
// generate_embedding_reference.py), through the real CPU engine.
if (!ENGINE_BUILT) console.log('embeddings e2e: skipped, the engine binary is not built (node scripts/build-engine.mjs)');

interface Reference {
  readonly prompts: number[][];
  readonly mean: number[][];
  readonly last: number[][];
}

describe.skipIf(!ENGINE_BUILT)('/v1/embeddings end to end (real CPU engine)', () => {
  let server: E2eServer;
  let client: OpenAI;
  let reference: Reference;
  const deployEmbedder = async (name: string, pooling: string) => {
    const dir = join(server.dataDir, name);
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'function.yaml'),
      `name: ${name}\ntask: embed\npooling: ${pooling}\nmodel: {path: ${join(ROOT, 'test/fixtures/models/tiny-qwen2')}}\n`,
    );
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir(dir, server.dataDir), { progress: false });
  };
  beforeAll(async () => {
    server = await startE2eServer({ requireEngine: true });
    reference = JSON.parse(await readFile(join(ROOT, 'test/fixtures/embeddings/tiny-qwen2.json'), 'utf8')) as Reference;
    await deployEmbedder('embed-last', 'last');
    await deployEmbedder('embed-mean', 'mean');
    await deployFunction(createApiClient({ baseUrl: server.url }), await prepareFunctionDir('functions/tiny-qwen', server.dataDir), { progress: false });
    client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 300_000);
  afterAll(async () => server?.close());

  const close = (got: readonly number[], want: readonly number[]) => {
    expect(got).toHaveLength(want.length);
    expect(Math.max(...got.map((v, i) => Math.abs(v - want[i]!)))).toBeLessThan(1e-5);
  };

  it('embeds texts and token ids, pooled last or mean, as transformers does', async () => {
    const texts = reference.prompts.map((ids) => Buffer.from(ids).toString('latin1'));
    const last = await client.embeddings.create({ model: 'embed-last', input: texts, encoding_format: 'float' });
    expect(last.data.map((d) => d.index)).toEqual([0, 1]);
    for (const [i, d] of last.data.entries()) close(d.embedding, reference.last[i]!);
    expect(last.usage).toEqual({ prompt_tokens: reference.prompts.flat().length, total_tokens: reference.prompts.flat().length });
    const mean = await client.embeddings.create({ model: 'embed-mean', input: reference.prompts });
    for (const [i, d] of mean.data.entries()) close(d.embedding, reference.mean[i]!);
    // The SDK asks for base64 by default and decodes it; asking for floats gives the same numbers.
    const single = await client.embeddings.create({ model: 'embed-mean', input: reference.prompts[0]! });
    close(single.data[0]!.embedding, reference.mean[0]!);
  });

  it('refuses generating functions here, embedding functions elsewhere, and dimensions it cannot give', async () => {
    await expect(client.embeddings.create({ model: 'tiny-qwen', input: 'x' })).rejects.toMatchObject({
      status: 400,
      param: 'model',
      message: expect.stringContaining('task: embed'),
    });
    await expect(client.completions.create({ model: 'embed-last', prompt: 'x', max_tokens: 2 })).rejects.toMatchObject({ status: 400, param: 'model' });
    await expect(client.embeddings.create({ model: 'embed-last', input: 'x', dimensions: 8 })).rejects.toMatchObject({ status: 400, param: 'dimensions' });
    await expect(client.embeddings.create({ model: 'embed-last', input: [] })).rejects.toMatchObject({ status: 400, param: 'input' });
    const ok = await client.embeddings.create({ model: 'embed-last', input: 'x', dimensions: 64 });
    expect(ok.data[0]!.embedding).toHaveLength(64);
  });
});
