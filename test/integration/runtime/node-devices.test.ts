import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LocalNodeRuntime } from '../../../runtime/node.js';
import type { Artifact } from '../../../protocol/node-runtime.js';
import { collect, eventually, request, skipReason, startFixtureNode, tokensOf, type FixtureNode, type Reference } from './node-engine-fixtures.js';
import { samplingWith } from '../../../protocol/sampling.js';

if (skipReason) console.warn(`skipping multi-device node tests: ${skipReason}`);

// One node driving two engines (two CPU engines stand in for two GPUs: the same lanes, router and
// schedulers run for the CUDA backend, one engine per device ordinal). Models spread over the devices, a
// popular one spills onto the second device, stats and the timeline show both, and a dead engine's device
// is avoided while it restarts.
describe.skipIf(skipReason !== undefined)('a node with two devices', () => {
  let fixture: FixtureNode;
  let node: LocalNodeRuntime;
  let llama: Artifact;
  let qwen: Artifact;
  let llamaRef: Reference;
  let qwenRef: Reference;

  beforeAll(async () => {
    fixture = await startFixtureNode('tp-node-devices-', { cpuEngines: 2, queueLimit: 64 });
    ({ node, llama, qwen, llamaRef, qwenRef } = fixture);
  });
  afterAll(async () => fixture?.close());

  const residentOn = async (device: number) => (await node.engineStats(device)).models.filter((m) => m.state === 'resident').map((m) => m.weightsDigest);

  it('runs one engine per device and reports each', async () => {
    expect(node.devices.map((d) => d.label)).toEqual(['cpu engine 0', 'cpu engine 1']);
    expect(node.enginePid(0)).not.toBe(node.enginePid(1));
    const stats = await node.stats();
    expect(stats.gpus.map((g) => [g.index, g.up])).toEqual([
      [0, true],
      [1, true],
    ]);
    expect((await node.timeline()).gpus.map((g) => g.label)).toEqual(['cpu engine 0', 'cpu engine 1']);
  });

  it('puts two models arriving together on different devices, each exact', async () => {
    const [a, b] = await Promise.all([collect(node.generate(request('a', llama, llamaRef))), collect(node.generate(request('b', qwen, qwenRef)))]);
    expect(tokensOf(a)).toEqual(llamaRef.greedy);
    expect(tokensOf(b)).toEqual(qwenRef.greedy);
    // Which one lands first depends on which host fetch finishes first; each device holds one of them.
    const resident = [await residentOn(0), await residentOn(1)];
    expect(resident.map((keys) => keys.length)).toEqual([1, 1]);
    expect(resident.flat().sort()).toEqual([llama.weightsDigest, qwen.weightsDigest].sort());
    const stats = await node.stats();
    expect(stats.gpus.flatMap((g) => g.resident).sort()).toEqual(['fn-a', 'fn-b']);
  });

  it('spills a popular model onto the second device when the first owes too many tokens', async () => {
    // 24 requests of 200 tokens owe 4800 tokens: past the router's 4000-token slack, so the last ones go to
    // the device that owes less (which then loads llama next to qwen).
    const runs = await Promise.all(
      Array.from({ length: 24 }, (_, i) => collect(node.generate(request(`hot${i}`, llama, llamaRef, { sampling: samplingWith({ max_tokens: 200 }) })))),
    );
    for (const events of runs) expect(tokensOf(events).slice(0, llamaRef.greedy.length)).toEqual(llamaRef.greedy);
    // Whichever device test 2 gave llama, the spilled requests loaded it on the other: it is on both now.
    expect(await residentOn(0)).toContain(llama.weightsDigest);
    expect(await residentOn(1)).toContain(llama.weightsDigest);
  });

  it('serves from the other device while one engine restarts', async () => {
    const dead = node.enginePid(1)!;
    process.kill(dead, 'SIGKILL');
    await eventually('the node saw the engine die', async () => node.enginePid(1) !== dead);
    // qwen was resident on device 1 only; with that engine down the router sends it to device 0
    const events = await collect(node.generate(request('after', qwen, qwenRef)));
    expect(tokensOf(events)).toEqual(qwenRef.greedy);
    expect(await residentOn(0)).toContain(qwen.weightsDigest);
    await eventually('the engine of device 1 is back', async () => node.enginePid(1) !== undefined);
  });
});
