import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { samplingWith, type SamplingGrammar } from '../../../protocol/sampling.js';
import type { TokenLogprob } from '../../../protocol/node-runtime.js';
import { compileResponseFormat } from '../../../protocol/structured-output/response-format.js';
import { toTransferForm } from '../../../protocol/structured-output/transfer-form.js';
import { EngineClient } from '../../../runtime/engine/engine-client.js';
import type { SequenceSink } from '../../../runtime/engine/engine.js';
import { waitFor } from '../../helpers/wait-for.js';
import { type Command, ScriptedEngine } from './scripted-engine.js';
import { digest } from '../../helpers/weights-digest.js';

// The engine client's side of constrained decoding, logprobs and embeddings, against a scripted engine.
describe('engine client: grammars, logprobs, embeddings', () => {
  let dir: string;
  let engine: ScriptedEngine;
  let client: EngineClient;
  let grammar: SamplingGrammar;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tp-grammar-'));
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ vocab_size: 260 }));
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, 'e.sock'), resolve));
    engine = new ScriptedEngine(server);
    client = await EngineClient.connect({ socketPath: join(dir, 'e.sock') });
    const compiled = compileResponseFormat({ type: 'json_schema', json_schema: { name: 'b', schema: { type: 'boolean' } } })!;
    grammar = { hash: compiled.hash, automaton: toTransferForm(compiled.dfa) };
  });

  afterEach(async () => {
    await client.close();
    engine.server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const constrained = (id: number) => ({
    id,
    weightsDigest: digest('m'),
    modelDir: dir,
    promptTokens: [1],
    sampling: samplingWith({ max_tokens: 4, grammar }),
    stopTokenIds: [2],
  });
  const sink = (events: unknown[]): SequenceSink => ({
    onToken: (token, logprob) => events.push({ token, logprob }),
    onDone: (reason, _usage, _error, embedding) => events.push({ reason, embedding }),
  });
  const ok = (command: Command) => engine.send({ type: 'ok', re: command.id });

  it('registers an automaton once per hash and the model bytes once per model, then names both in add', async () => {
    const first = client.add(constrained(1), sink([]));
    const second = client.add(constrained(2), sink([]));
    const registrations = [await engine.next(), await engine.next()].sort((a, b) => a.op.localeCompare(b.op));
    expect(registrations[0]).toMatchObject({ op: 'grammar', grammar: grammar.hash, states: grammar.automaton.states, start: 0 });
    const vocab = registrations[1]!;
    expect(vocab).toMatchObject({ op: 'vocab', vocab: 'm' });
    const tokens = vocab.tokens as (string | null)[];
    expect(tokens).toHaveLength(260);
    expect(Buffer.from(tokens[65]!, 'base64').toString()).toBe('A');
    expect(tokens[256]).toBeNull();
    for (const command of registrations) ok(command);
    const adds = [await engine.next(), await engine.next()];
    expect(adds.map((c) => [c.op, c.seq, c.grammar, c.vocab, c.eos_ids])).toEqual([
      ['add', 1, grammar.hash, 'm', [2]],
      ['add', 2, grammar.hash, 'm', [2]],
    ]);
    for (const command of adds) ok(command);
    await Promise.all([first, second]);
  });

  it('registers again and retries add once when the engine dropped the automaton (not_found)', async () => {
    const added = client.add(constrained(1), sink([]));
    ok(await engine.next());
    ok(await engine.next());
    const add = await engine.next();
    engine.send({ type: 'error', re: add.id, code: 'not_found', message: `grammar ${grammar.hash} is not registered` });
    const again = [await engine.next(), await engine.next()];
    expect(again.map((c) => c.op).sort()).toEqual(['grammar', 'vocab']);
    for (const command of again) ok(command);
    const retried = await engine.next();
    expect(retried).toMatchObject({ op: 'add', seq: 1, grammar: grammar.hash });
    ok(retried);
    await added;
  });

  it('hands each token its logprob and an embedding sequence its vector', async () => {
    const events: unknown[] = [];
    const added = client.add(
      { id: 7, weightsDigest: digest('m'), promptTokens: [1], sampling: samplingWith({ max_tokens: 2, logprobs: true, top_logprobs: 1 }), stopTokenIds: [] },
      sink(events),
    );
    const add = await engine.next();
    expect(add).toMatchObject({ logprobs: true, top_logprobs: 1, embed: null });
    ok(add);
    await added;
    engine.send({ type: 'step', model: 'm', ms: 1, tokens: [[7, 5, { logprob: -0.25, top: [[5, -0.25]] }]] });
    engine.send({ type: 'done', seq: 7, reason: 'stop', prompt_tokens: 1, completion_tokens: 1, embedding: [0.6, 0.8] });
    await waitFor(() => events.length === 2, { message: 'the token and the end' });
    const logprob: TokenLogprob = { logprob: -0.25, top: [[5, -0.25]] };
    expect(events).toEqual([
      { token: 5, logprob },
      { reason: 'stop', embedding: [0.6, 0.8] },
    ]);
  });
});
