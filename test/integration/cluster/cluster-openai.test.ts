import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir } from '../../helpers/temp-dir.js';
import { waitFor } from '../../helpers/wait-for.js';
import {
  ROOT,
  clusterEnv,
  clusterSkipReason,
  createClusterDatabase,
  runCli,
  startNode,
  startServe,
  stopProcesses,
  type ClusterDatabase,
  type Proc,
} from './cluster-processes.js';

/**
 * Every OpenAI feature through every door: a `tidepool serve` replica and two `tidepool node` processes
 * (real CPU engines, PostgreSQL records), so each request crosses the node API (the sampling record checked
 * on the node, the automaton and the model's token bytes registered with the node's engine, logprobs and
 * embeddings back over NDJSON). Each feature is asked streamed and not, with the official openai client.
 */
const skipReason = clusterSkipReason();
if (skipReason) console.warn(`[skip] cluster openai test: ${skipReason}`);

const ajv = new Ajv2020({ strict: false });
const SCHEMA = {
  type: 'object',
  properties: { city: { enum: ['Paris', 'Lima'] }, days: { type: 'integer', minimum: 1, maximum: 9 } },
  required: ['city', 'days'],
  additionalProperties: false,
};
const ADD = {
  type: 'function' as const,
  function: { name: 'add', parameters: { type: 'object', properties: { a: { type: 'integer', minimum: 0, maximum: 9 } }, required: ['a'] } },
};

describe.skipIf(skipReason !== undefined)('OpenAI features on a cluster (serve + 2 nodes)', () => {
  let temp: Awaited<ReturnType<typeof makeTempDir>>;
  let database: ClusterDatabase;
  let client: OpenAI;
  const procs: Proc[] = [];
  const messages = [{ role: 'user' as const, content: 'hello' }];

  beforeAll(async () => {
    temp = await makeTempDir('tidepool-cluster-openai');
    database = await createClusterDatabase('tidepool_cluster_openai');
    const env = clusterEnv(database.url, join(temp.dir, 'data'));
    const plane = await startServe(env, procs);
    await Promise.all([0, 1].map((i) => startNode(plane, { ...env, TIDEPOOL_SHM_DIR: join(temp.dir, `shm-${i}`) }, procs)));
    const deploy = async (dir: string) => {
      const result = await runCli(['deploy', dir, '--json'], { ...env, TIDEPOOL_API_URL: plane });
      if (result.code !== 0) throw new Error(`deploy ${dir} failed: ${result.stderr}`);
    };
    await deploy(join(ROOT, 'functions/tiny-chat'));
    const embedDir = join(temp.dir, 'embedder');
    await mkdir(embedDir, { recursive: true });
    await writeFile(
      join(embedDir, 'function.yaml'),
      `name: embedder\ntask: embed\npooling: mean\nmodel: {path: ${join(ROOT, 'test/fixtures/models/tiny-qwen2')}}\n`,
    );
    await deploy(embedDir);
    client = new OpenAI({ baseURL: `${plane}/v1`, apiKey: 'unused', maxRetries: 0 });
  }, 600_000);

  afterAll(async () => {
    await stopProcesses(procs);
    await database?.drop();
    await temp?.remove();
  });

  it('logprobs and n choices, whole and streamed, agree', async () => {
    const request = { model: 'tiny-chat', messages, max_tokens: 5, temperature: 0, logprobs: true, top_logprobs: 2, n: 2 };
    const whole = await client.chat.completions.create(request);
    expect(whole.choices).toHaveLength(2);
    const content = whole.choices[0]!.logprobs!.content!;
    expect(content.length).toBeGreaterThan(0);
    const stream = await client.chat.completions.create({ ...request, stream: true });
    const streamed: OpenAI.ChatCompletionTokenLogprob[][] = [[], []];
    for await (const chunk of stream) for (const c of chunk.choices) streamed[c.index]!.push(...(c.logprobs?.content ?? []));
    expect(streamed[0]).toEqual(content);
  });

  it('structured outputs and forced tool calls, whole and streamed', async () => {
    const response_format = { type: 'json_schema' as const, json_schema: { name: 'trip', schema: SCHEMA } };
    const whole = await client.chat.completions.create({ model: 'tiny-chat', messages, max_tokens: 80, temperature: 1, seed: 4, response_format });
    expect(ajv.validate(SCHEMA, JSON.parse(whole.choices[0]!.message.content!))).toBe(true);
    const stream = await client.chat.completions.create({
      model: 'tiny-chat',
      messages,
      max_tokens: 80,
      temperature: 1,
      seed: 5,
      response_format,
      stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(ajv.validate(SCHEMA, JSON.parse(text))).toBe(true);
    const tools = { model: 'tiny-chat', messages, tools: [ADD], tool_choice: 'required' as const, parallel_tool_calls: false, max_tokens: 60, temperature: 0 };
    const called = await client.chat.completions.create(tools);
    const call = called.choices[0]!.message.tool_calls![0]!;
    if (call.type !== 'function') throw new Error('expected a function call');
    expect(ajv.validate(ADD.function.parameters, JSON.parse(call.function.arguments))).toBe(true);
    const deltas = await client.chat.completions.create({ ...tools, stream: true });
    let args = '';
    for await (const chunk of deltas) args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
    expect(args).toBe(call.function.arguments);
  });

  it('batched completions with echo, the Responses API streamed, and embeddings', async () => {
    const batch = await client.completions.create({ model: 'tiny-chat', prompt: ['The tide', 'A pool'], max_tokens: 3, temperature: 0, echo: true });
    expect(batch.choices.map((c) => c.text.slice(0, 6))).toEqual(['The ti', 'A pool']);
    const events = await client.responses.create({
      model: 'tiny-chat',
      input: 'plan',
      max_output_tokens: 80,
      temperature: 1,
      text: { format: { type: 'json_schema', name: 'trip', schema: SCHEMA } },
      stream: true,
    });
    let text = '';
    let last = '';
    for await (const event of events) {
      last = event.type;
      if (event.type === 'response.output_text.delta') text += event.delta;
    }
    expect(last).toBe('response.completed');
    expect(ajv.validate(SCHEMA, JSON.parse(text))).toBe(true);
    const reference = JSON.parse(await readFile(join(ROOT, 'test/fixtures/embeddings/tiny-qwen2.json'), 'utf8')) as { prompts: number[][]; mean: number[][] };
    const embedded = await client.embeddings.create({ model: 'embedder', input: reference.prompts, encoding_format: 'float' });
    embedded.data.forEach((d, i) => {
      expect(Math.max(...d.embedding.map((v, j) => Math.abs(v - reference.mean[i]![j]!)))).toBeLessThan(1e-5);
    });
  });

  it('records every invocation with the parameters it ran with, on PostgreSQL', async () => {
    const db = await database.connect();
    try {
      const rows = await waitFor(
        async () => {
          const { rows } = await db.query<{ params: Record<string, unknown> | null }>('select params from invocations');
          const endpoints = new Set(rows.map((r) => r.params?.endpoint));
          return ['chat.completions', 'completions', 'responses', 'embeddings'].every((e) => endpoints.has(e)) ? rows : undefined;
        },
        { message: 'records of every endpoint', timeoutMs: 10_000 },
      );
      const structured = rows.find((r) => r.params?.response_format === 'json_schema');
      expect((structured?.params?.sampling as { grammar?: unknown } | undefined)?.grammar).toMatch(/^[0-9a-f]{64}$/);
      expect(rows.some((r) => (r.params?.tools as string[] | undefined)?.includes('add'))).toBe(true);
      expect(rows.some((r) => r.params?.endpoint === 'embeddings' && r.params?.pooling === 'mean')).toBe(true);
    } finally {
      await db.end();
    }
  });
});
