import express from 'express';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { chunkEncoder, endSse, sendSse, startSse } from '../../../platform/api/sse.js';
import { createControlPlane, type ControlPlane } from '../../../platform/control-plane.js';
import { openDatabase } from '../../../platform/db/open-database.js';
import type { Database } from '../../../platform/db/database.js';
import type { NodeEvent, NodeGenerateRequest, NodeRuntime } from '../../../protocol/node-runtime.js';
import { FIXTURE_QWEN, memoryBlobs, putModelFiles } from './api-helpers.js';
import { waitFor } from '../../helpers/wait-for.js';

// The invoke path's cheap forms (docs/api.md, control-plane overhead) must answer exactly as before: these
// check what each saving could break.

/** A node that records the signal of every generation and yields `text` byte by byte, `delayMs` apart. */
function signalNode(text: string, delayMs: number): NodeRuntime & { readonly signals: AbortSignal[] } {
  const signals: AbortSignal[] = [];
  return {
    nodeId: 'signal-node',
    signals,
    async *generate(request: NodeGenerateRequest, signal?: AbortSignal): AsyncGenerator<NodeEvent> {
      signals.push(signal!);
      const bytes = Buffer.from(text);
      let produced = 0;
      for (; produced < request.sampling.max_tokens && !signal?.aborted; produced++) {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        yield { type: 'token', token: bytes[produced % bytes.length]! };
      }
      const reason = signal?.aborted ? 'cancelled' : 'length';
      yield { type: 'done', reason, promptTokens: request.promptTokens.length, completionTokens: produced };
    },
    residency: async () => [],
    close: async () => {},
  };
}

describe('invoke hot path', () => {
  let database: Database;
  let plane: ControlPlane;

  beforeEach(async () => {
    database = await openDatabase({});
  });
  afterEach(async () => {
    await plane?.close();
    await database.close();
  });

  async function deploy(node: NodeRuntime): Promise<void> {
    const blobs = memoryBlobs();
    plane = createControlPlane({ database, blobs, nodes: [node], recorder: { flushIntervalMs: 10 } });
    const files = await putModelFiles(blobs, FIXTURE_QWEN);
    const manifest = { name: 'echo', model: { path: '.' }, defaults: { max_tokens: 8, temperature: 0 } };
    expect((await request(plane.app).post('/v1/functions').send({ manifest, files })).status).toBe(201);
  }

  it('leaves the node alone after a generation ran to its end, and cancels it when the client leaves mid-stream', async () => {
    const node = signalNode(' hello world', 20);
    await deploy(node);
    await request(plane.app).post('/v1/completions').send({ model: 'echo', prompt: 'hi', max_tokens: 3 }).expect(200);
    await request(plane.app).post('/v1/completions').send({ model: 'echo', prompt: 'hi', max_tokens: 3, stream: true }).expect(200);
    expect(node.signals.map((s) => s.aborted)).toEqual([false, false]);

    const url = await plane.listen(0, '127.0.0.1');
    const client = new AbortController();
    const res = await fetch(`${url}/v1/completions`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      signal: client.signal,
      body: JSON.stringify({ model: 'echo', prompt: 'hi', max_tokens: 100, stream: true }),
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    client.abort();
    await waitFor(() => node.signals[2]?.aborted, { message: "the client's hang-up to reach the node" });
    // The generation notices at its next token, then records.
    const statuses = await waitFor(
      async () => {
        await plane.recorder.flush();
        const recorded = (await database.db.selectFrom('invocations').select('status').execute()).map((r) => r.status).sort();
        return recorded.length >= 3 ? recorded : undefined;
      },
      { intervalMs: 20, message: 'three invocation records' },
    );
    expect(statuses).toEqual(['cancelled', 'length', 'length']);
  });

  it('streams chunks byte for byte as JSON.stringify writes them, keys in OpenAI order', async () => {
    const sample = ' hello "world" \\ é';
    const max_tokens = Buffer.byteLength(sample);
    await deploy(signalNode(sample, 0));
    const chat = await request(plane.app)
      .post('/v1/chat/completions')
      .send({ model: 'echo', messages: [{ role: 'user', content: 'hi' }], max_tokens, stream: true, stream_options: { include_usage: true } });
    const text = await request(plane.app).post('/v1/completions').send({ model: 'echo', prompt: 'hi', max_tokens, stream: true });
    for (const res of [chat, text]) {
      const frames = res.text.split('\n\n').filter(Boolean);
      expect(frames.at(-1)).toBe('data: [DONE]');
      for (const frame of frames.slice(0, -1)) {
        const json = frame.slice('data: '.length);
        expect(JSON.stringify(JSON.parse(json))).toBe(json);
        expect(Object.keys(JSON.parse(json))).toEqual([
          'id',
          'object',
          'created',
          'model',
          'system_fingerprint',
          'choices',
          ...(json.includes('"usage"') ? ['usage'] : []),
        ]);
      }
    }
    const content = chat.text
      .split('\n\n')
      .filter((f) => f.startsWith('data: {'))
      .map((f) => JSON.parse(f.slice(6)).choices[0]?.delta?.content ?? '')
      .join('');
    expect(content).toBe(sample);
  });
});

describe('SSE framing', () => {
  it('encodes a chunk as JSON.stringify of base and fields together', () => {
    const base = { id: 'c-1', object: 'chat.completion.chunk', created: 1, model: 'm "quoted"', system_fingerprint: undefined };
    const encode = chunkEncoder(base);
    for (const fields of [{ choices: [{ index: 0, delta: { content: 'a\nb' } }] }, { choices: [], usage: { total_tokens: 3 } }, {}]) {
      expect(encode(fields).text).toBe(JSON.stringify({ ...base, ...fields }));
    }
    expect(chunkEncoder({})({ a: 1 }).text).toBe('{"a":1}');
    expect(chunkEncoder({})({}).text).toBe('{}');
  });

  it('sends the frames written in one tick in one socket write', async () => {
    const writes: number[] = [];
    const app = express().get('/sse', (req, res) => {
      const socket = req.socket as unknown as { _writev: (...a: unknown[]) => void; _write: (...a: unknown[]) => void };
      const writev = socket._writev.bind(socket);
      const write = socket._write.bind(socket);
      socket._writev = (...a) => {
        writes.push(1);
        return writev(...a);
      };
      socket._write = (...a) => {
        writes.push(1);
        return write(...a);
      };
      startSse(res);
      sendSse(res, { n: 1 });
      sendSse(res, { n: 2 });
      setTimeout(() => {
        sendSse(res, { n: 3 });
        sendSse(res, { n: 4 });
        endSse(res);
      }, 20);
    });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const body = await (await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/sse`)).text();
      expect(body).toBe('data: {"n":1}\n\ndata: {"n":2}\n\ndata: {"n":3}\n\ndata: {"n":4}\n\ndata: [DONE]\n\n');
      // Headers and the first two frames, then the last two frames, [DONE] and the chunked terminator.
      expect(writes).toHaveLength(2);
    } finally {
      server.close();
    }
  });
});
