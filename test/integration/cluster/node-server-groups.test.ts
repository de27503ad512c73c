import { describe, expect, it } from 'vitest';
import { HttpNodeRuntime } from '../../../platform/router/http-node.js';
import { startNodeServer } from '../../../runtime/cluster/node-server.js';
import type { NodeEvent, NodeGenerateRequest, NodeRuntime } from '../../../protocol/node-runtime.js';
import { samplingWith } from '../../../protocol/sampling.js';
import { realDigest } from '../../helpers/weights-digest.js';

// A request's choices as one group through the node API over real HTTP: each choice's events tagged, a choice
// cancelled alone through `POST /internal/cancel`, and a node that fails mid-group ending every open choice.
const TOKEN = 'groups-test-token';

function group(id: string, seeds: readonly number[], maxTokens: number): NodeGenerateRequest {
  return {
    id,
    functionName: 'fn',
    version: 1,
    artifact: { weightsDigest: realDigest('a'), files: [], bytes: 0 },
    promptTokens: [1, 2, 3],
    sampling: samplingWith({ max_tokens: maxTokens, seed: seeds[0]! }),
    stopTokenIds: [],
    slo: { ttftMs: 1000, tpotMs: 100 },
    keepWarmMs: 0,
    seeds,
  };
}

/**
 * A node that runs a group's choices side by side, one token per choice per round until each reaches its
 * length or its choice signal aborts. `stallChoice` stops after its first token until its signal aborts;
 * with `failAfterRounds` the node throws after that many rounds.
 */
function groupNode(options: { readonly failAfterRounds?: number; readonly stallChoice?: number } = {}): NodeRuntime & { readonly aborted: number[] } {
  const aborted: number[] = [];
  return {
    nodeId: 'group-node',
    aborted,
    async *generate(request, signal, choiceSignals) {
      const n = request.seeds?.length ?? 1;
      const produced = Array<number>(n).fill(0);
      const open = new Set(Array.from({ length: n }, (_, i) => i));
      for (let round = 0; open.size > 0; round++) {
        if (round === options.failAfterRounds) throw new Error('runtime exploded');
        const stalled = options.stallChoice !== undefined && open.has(options.stallChoice) && produced[options.stallChoice] === 1;
        const stallSignal = stalled ? choiceSignals?.[options.stallChoice!] : undefined;
        if (stallSignal && !stallSignal.aborted && open.size === 1)
          await new Promise((resolve) => stallSignal.addEventListener('abort', resolve, { once: true }));
        for (const choice of [...open]) {
          // The stalled choice waits for its cancel.
          if (choice === options.stallChoice && produced[choice] === 1 && !choiceSignals?.[choice]?.aborted) continue;
          const done = { type: 'done', promptTokens: 3, completionTokens: produced[choice]!, choice } as const;
          if (signal?.aborted || choiceSignals?.[choice]?.aborted) {
            if (choiceSignals?.[choice]?.aborted) aborted.push(choice);
            open.delete(choice);
            yield { ...done, reason: 'cancelled' };
          } else if (produced[choice] === request.sampling.max_tokens) {
            open.delete(choice);
            yield { ...done, reason: 'length' };
          } else {
            produced[choice]!++;
            yield { type: 'token', token: 100 + choice, choice };
          }
        }
      }
    },
    residency: async () => [],
    close: async () => {},
  };
}

async function serve(node: NodeRuntime) {
  const server = await startNodeServer({ node, token: TOKEN, host: '127.0.0.1', port: 0 });
  return { server, client: new HttpNodeRuntime(node.nodeId, server.url, TOKEN) };
}

function ends(events: readonly NodeEvent[]): Record<number, string> {
  return Object.fromEntries(events.flatMap((e) => (e.type === 'done' ? [[e.choice, e.reason]] : [])));
}

describe('a group over the node API', () => {
  it('streams every choice tagged, and ends one choice alone when its signal aborts', async () => {
    // Choice 1 stalls after its first token until the cancel reaches the node, the others run to their length.
    const node = groupNode({ stallChoice: 1 });
    const { server, client } = await serve(node);
    const cut = new AbortController();
    const events: NodeEvent[] = [];
    for await (const event of client.generate(group('g1', [1, 2, 3], 40), undefined, [
      new AbortController().signal,
      cut.signal,
      new AbortController().signal,
    ])) {
      events.push(event);
      if (event.type === 'token' && event.choice === 1 && !cut.signal.aborted) cut.abort();
    }
    expect(ends(events)).toEqual({ 0: 'length', 1: 'cancelled', 2: 'length' });
    expect(node.aborted).toEqual([1]);
    expect(events.filter((e) => e.type === 'token' && e.choice === 1)).toHaveLength(1);
    expect(events.filter((e) => e.type === 'token' && e.choice === 0)).toHaveLength(40);
    await server.close();
  });

  it('answers a cancel for a request it does not run with cancelled: false, and refuses a bad body by name', async () => {
    const { server } = await serve(groupNode());
    const post = (body: unknown) =>
      fetch(`${server.url}/internal/cancel`, { method: 'POST', headers: { Authorization: `Bearer ${TOKEN}` }, body: JSON.stringify(body) });
    const unknown = await post({ id: 'nobody', choice: 0 });
    expect([unknown.status, await unknown.json()]).toEqual([200, { cancelled: false }]);
    const bad = await post({ id: 'g1', choice: 99 });
    expect([bad.status, ((await bad.json()) as { error: { message: string } }).error.message]).toEqual([400, 'choice: must be below 16']);
    await server.close();
  });

  it('refuses a group with a bad seed list before anything runs', async () => {
    const { server, client } = await serve(groupNode());
    const events = client.generate({ ...group('g2', [1, 2], 4), seeds: [5, 6] })[Symbol.asyncIterator]();
    await expect(events.next()).rejects.toMatchObject({ message: expect.stringMatching(/seeds\[0\]: must equal sampling\.seed \(1\)/) });
    await server.close();
  });

  it('ends every open choice with an error event when the node fails mid-group', async () => {
    const { server, client } = await serve(groupNode({ failAfterRounds: 3 }));
    const events: NodeEvent[] = [];
    for await (const event of client.generate(group('g3', [1, 2, 3, 4], 100))) events.push(event);
    const failed = events.filter((e) => e.type === 'done');
    expect(failed.map((e) => e.choice).sort()).toEqual([0, 1, 2, 3]);
    for (const end of failed) expect(end).toMatchObject({ reason: 'error', error: { message: 'runtime exploded' } });
    await server.close();
  });
});
