import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { validateModelDir } from '../../platform/models/validate-model.js';
import { runCli, stderrLines } from './run-cli.js';

// `tidepool synth` through the real CLI: a loadable Hugging Face folder, deterministic from the seed.
describe('tidepool synth', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'tidepool-synth-cli-'));
  });
  afterAll(async () => rm(root, { recursive: true, force: true }));

  async function filesOf(dir: string): Promise<Map<string, Buffer>> {
    const names = (await readdir(dir)).sort();
    return new Map(await Promise.all(names.map(async (name) => [name, await readFile(join(dir, name))] as const)));
  }

  it('writes config.json and safetensors, byte-identical for the same seed and different for another', { timeout: 60_000 }, async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((name) => join(root, name));
    const first = await runCli(['synth', '--shape', 'tiny', '--seed', '3', '--out', a!, '--json']);
    expect(first.code, first.stderr).toBe(0);
    const result = JSON.parse(first.stdout) as { files: string[]; bytes: number; config: { architecture: string; vocabSize: number } };
    expect(result.files).toEqual(expect.arrayContaining(['config.json', 'model.safetensors']));
    expect(result.config.architecture).toBe('Qwen2ForCausalLM');
    expect(result.bytes).toBe((await readFile(join(a!, 'model.safetensors'))).length);
    expect((await validateModelDir(a!)).config.vocabSize).toBe(result.config.vocabSize);

    const human = await runCli(['synth', '--shape', 'tiny', '--seed', '3', '--out', b!]);
    expect(human.code, human.stderr).toBe(0);
    expect(human.stdout.trim()).toBe(`wrote tiny (seed 3) to ${b}`);
    const [filesA, filesB] = [await filesOf(a!), await filesOf(b!)];
    expect([...filesB.keys()]).toEqual([...filesA.keys()]);
    for (const [name, bytes] of filesA) expect(filesB.get(name)!.equals(bytes), name).toBe(true);

    expect((await runCli(['synth', '--shape', 'tiny', '--seed', '4', '--out', c!])).code).toBe(0);
    const weightsC = await readFile(join(c!, 'model.safetensors'));
    expect(weightsC.length).toBe(filesA.get('model.safetensors')!.length);
    expect(weightsC.equals(filesA.get('model.safetensors')!)).toBe(false);
  });

  it.each([
    { args: '--shape nope --seed 1', line: /^tidepool: --shape: unknown shape nope \(known: tiny, small, qwen2\.5-0\.5b, / },
    { args: '--shape tiny --seed abc', line: /^tidepool: --seed: abc is not a non-negative integer$/ },
    { args: '--shape tiny --seed 1.5', line: /^tidepool: --seed: 1\.5 is not a non-negative integer$/ },
    { args: '--shape tiny --seed 0x10', line: /^tidepool: --seed: 0x10 is not a non-negative integer$/ },
    { args: '--shape tiny --dtype F8', line: /^tidepool: --dtype: F8 is not F32, F16 or BF16$/ },
  ])('refuses synth $args in one line and writes nothing', async ({ args, line }) => {
    const out = join(root, 'refused');
    const run = await runCli(['synth', ...args.split(' '), '--out', out]);
    expect(run.code).toBe(1);
    const lines = stderrLines(run);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(line);
    await expect(readdir(out)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
