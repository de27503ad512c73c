import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedTensors, parseModelConfig } from '../../../platform/models/model-config.js';
import { MODEL_SHAPES, shapeConfigJson } from '../../../platform/models/shapes.js';
import { planShards, synthesizeModel } from '../../../platform/models/synth.js';
import { readSafetensorsHeader } from '../../../platform/models/safetensors.js';
import { inspectModelDir, validateModelDir } from '../../../platform/models/validate-model.js';
import { loadTokenizer } from '../../../platform/models/tokenizer.js';

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tidepool-synth-'));
});
afterAll(async () => rm(work, { recursive: true, force: true }));

async function filesOf(dir: string): Promise<Map<string, Buffer>> {
  const names = (await readdir(dir)).sort();
  return new Map(await Promise.all(names.map(async (n) => [n, await readFile(join(dir, n))] as const)));
}

/** Reads one tensor's raw bytes from a synthesized directory. */
async function tensorBytes(dir: string, file: string, name: string): Promise<Buffer> {
  const header = await readSafetensorsHeader(join(dir, file));
  const info = header.tensors.find((t) => t.name === name)!;
  const data = await readFile(join(dir, file));
  return data.subarray(header.dataStart + info.dataOffsets[0], header.dataStart + info.dataOffsets[1]);
}

describe('synthesizeModel', () => {
  it('writes a tiny model that validates, with a tokenizer whose vocabulary matches the config', async () => {
    const dir = join(work, 'tiny-a');
    const result = await synthesizeModel({ shape: 'tiny', seed: 1, outDir: dir });
    expect(result.files).toEqual(['config.json', 'tokenizer.json', 'model.safetensors']);
    const summary = await validateModelDir(dir);
    expect(summary.dtypes).toEqual(['F32']);
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.kind).toBe('tokenizer.json');
    expect(tokenizer.vocabSize).toBe(summary.config.vocabSize);
    expect(tokenizer.eosTokenId).toBe(summary.config.eosTokenIds[0]);
  });

  it('is byte-identical for the same seed and differs for another seed', async () => {
    await synthesizeModel({ shape: 'tiny', seed: 1, outDir: join(work, 'tiny-b') });
    await synthesizeModel({ shape: 'tiny', seed: 2, outDir: join(work, 'tiny-c') });
    const [a, b, c] = await Promise.all(['tiny-a', 'tiny-b', 'tiny-c'].map((d) => filesOf(join(work, d))));
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, bytes] of a) expect(bytes.equals(b.get(name)!), name).toBe(true);
    expect(a.get('model.safetensors')!.equals(c.get('model.safetensors')!)).toBe(false);
  });

  it('shards past shardBytes with an index, and sharding does not change tensor data', async () => {
    const dir = join(work, 'tiny-sharded');
    const result = await synthesizeModel({ shape: 'tiny', seed: 1, outDir: dir, shardBytes: 4 * 1024 * 1024 });
    const shards = result.files.filter((f) => f.endsWith('.safetensors'));
    expect(shards.length).toBeGreaterThan(2);
    expect(shards[0]).toBe(`model-00001-of-${String(shards.length).padStart(5, '0')}.safetensors`);
    expect(result.files).toContain('model.safetensors.index.json');
    expect((await validateModelDir(dir)).files).toHaveLength(shards.length);
    const name = 'model.layers.3.mlp.down_proj.weight';
    const index = JSON.parse(await readFile(join(dir, 'model.safetensors.index.json'), 'utf8'));
    const sharded = await tensorBytes(dir, index.weight_map[name], name);
    expect(sharded.equals(await tensorBytes(join(work, 'tiny-a'), 'model.safetensors', name))).toBe(true);
  });

  it('refuses a shard index that points a tensor at the wrong shard', async () => {
    const dir = join(work, 'tiny-sharded');
    const indexPath = join(dir, 'model.safetensors.index.json');
    const index = JSON.parse(await readFile(indexPath, 'utf8'));
    const name = 'model.norm.weight';
    const wrong = Object.values<string>(index.weight_map).find((file) => file !== index.weight_map[name])!;
    await writeFile(indexPath, JSON.stringify({ ...index, weight_map: { ...index.weight_map, [name]: wrong } }));
    const check = await inspectModelDir(dir);
    expect(check.ok).toBe(false);
    if (!check.ok)
      expect(check.problems.map((p) => p.message)).toContain(
        `model.safetensors.index.json: tensor ${name} is listed in ${wrong} but stored in ${index.weight_map[name]}`,
      );
  });

  it('writes half-precision weights near the intended scale (norm weights near 1)', async () => {
    const dir = join(work, 'tiny-bf16');
    await synthesizeModel({ shape: 'tiny', seed: 3, outDir: dir, dtype: 'BF16' });
    expect((await validateModelDir(dir)).dtypes).toEqual(['BF16']);
    const norm = await tensorBytes(dir, 'model.safetensors', 'model.norm.weight');
    const values = Array.from({ length: norm.byteLength / 2 }, (_, i) => new Float32Array(new Uint32Array([norm.readUInt16LE(2 * i) << 16]).buffer)[0]);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    expect(mean).toBeGreaterThan(0.97);
    expect(mean).toBeLessThan(1.03);
  });

  it('a truncated copy fails validation with a precise message', async () => {
    const dir = join(work, 'tiny-a');
    await truncate(join(dir, 'model.safetensors'), 10_000_000);
    const check = await inspectModelDir(dir);
    expect(check.ok).toBe(false);
    if (!check.ok)
      expect(check.problems[0].message).toMatch(
        /^model\.safetensors: truncated: tensor model\.layers\.\d+\.\S+ ends at byte \d+ but the file has 10000000 bytes$/,
      );
  });
});

describe('model shapes', () => {
  // Shapes named after published models; tiny and small carry synth's own tokenizer and vocabulary instead.
  it.each(Object.keys(MODEL_SHAPES).filter((n) => !MODEL_SHAPES[n]!.withTokenizer))('%s is a valid config with the expected size', (name) => {
    const shape = MODEL_SHAPES[name];
    const config = parseModelConfig(shapeConfigJson(shape, shape.vocabSize, shape.defaultDtype));
    const params = [...expectedTensors(config).values()].reduce((sum, dims) => sum + dims.reduce((a, b) => a * b, 1), 0);
    const billions = Number.parseFloat(name.split('-').at(-1)!);
    // Published sizes are rounded; random shapes must land within 25% of the name.
    expect(params / 1e9).toBeGreaterThan(billions * 0.75);
    expect(params / 1e9).toBeLessThan(billions * 1.25);
  });

  it("gives small about eight times tiny's weights per token with the same vocabulary", () => {
    const paramsOf = (name: string) => {
      const config = parseModelConfig(shapeConfigJson(MODEL_SHAPES[name]!, 2796, 'F32'));
      return [...expectedTensors(config).values()].reduce((sum, dims) => sum + dims.reduce((a, b) => a * b, 1), 0);
    };
    expect(paramsOf('small') / 1e6).toBeCloseTo(26.5, 0);
    expect(paramsOf('small') / paramsOf('tiny')).toBeGreaterThan(5);
  });

  it('plans shards in order without exceeding the limit unless a tensor is larger', () => {
    const spec = (name: string, n: number) => ({ name, dtype: 'F32' as const, shape: [n] });
    const shards = planShards([spec('a', 10), spec('b', 10), spec('c', 30), spec('d', 5)], 80);
    expect(shards.map((s) => s.map((t) => t.name))).toEqual([['a', 'b'], ['c'], ['d']]);
  });
});
