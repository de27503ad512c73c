import { cp, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectedTensors, parseModelConfig } from '../../../platform/models/model-config.js';
import { writeSafetensors } from '../../../platform/models/safetensors-writer.js';
import { inspectModelDir, validateModelDir, ModelValidationError, type ModelProblem } from '../../../platform/models/validate-model.js';

const fixtures = new URL('../../fixtures/models/', import.meta.url).pathname;
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'tidepool-validate-'));
});
afterAll(async () => rm(work, { recursive: true, force: true }));

/** A copy of a reference fixture that a test may damage. */
async function copyFixture(name: string, as: string): Promise<string> {
  const dir = join(work, as);
  await cp(join(fixtures, name), dir, { recursive: true });
  return dir;
}

async function problems(dir: string): Promise<readonly ModelProblem[]> {
  const check = await inspectModelDir(dir);
  if (check.ok) throw new Error('model was accepted');
  return check.problems;
}

describe('validateModelDir', () => {
  it.each([
    ['tiny-llama', 'F32'],
    ['tiny-qwen2', 'F32'],
    ['tiny-llama-bf16', 'BF16'],
    ['tiny-qwen2-f16', 'F16'],
  ])('accepts the reference fixture %s', async (name, dtype) => {
    const summary = await validateModelDir(join(fixtures, name));
    expect(summary.dtypes).toEqual([dtype]);
    expect(summary.ignoredTensors).toEqual([]);
  });

  it('reports a truncated weight file, naming the first tensor cut off', async () => {
    const dir = await copyFixture('tiny-llama', 'truncated');
    await truncate(join(dir, 'model.safetensors'), 400_000);
    const [problem] = await problems(dir);
    expect(problem.code).toBe('truncated');
    expect(problem.message).toMatch(/^model\.safetensors: truncated: tensor .+ ends at byte \d+ but the file has 400000 bytes$/);
    await expect(validateModelDir(dir)).rejects.toThrow(ModelValidationError);
  });

  it('reports a missing tensor with its expected shape', async () => {
    const dir = await copyFixture('tiny-qwen2', 'missing');
    const config = parseModelConfig(JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')));
    const specs = [...expectedTensors(config)]
      .filter(([name]) => name !== 'model.layers.1.self_attn.k_proj.bias')
      .map(([name, shape]) => ({ name, dtype: 'F32' as const, shape }));
    await writeSafetensors(join(dir, 'model.safetensors'), specs, (spec) => [new Uint8Array(spec.shape.reduce((a, b) => a * b, 4))]);
    expect(await problems(dir)).toEqual([
      {
        code: 'missing_tensor',
        message: 'missing tensor model.layers.1.self_attn.k_proj.bias (expected shape [32])',
        tensor: 'model.layers.1.self_attn.k_proj.bias',
      },
    ]);
  });

  it('reports tensors whose shape disagrees with config.json, expected vs found', async () => {
    const dir = await copyFixture('tiny-llama', 'shape');
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, intermediate_size: 96 }));
    const found = await problems(dir);
    expect(found).toHaveLength(6);
    expect(found[0]).toMatchObject({ code: 'unexpected_shape', tensor: 'model.layers.0.mlp.gate_proj.weight' });
    expect(found[0].message).toBe('tensor model.layers.0.mlp.gate_proj.weight in model.safetensors has shape [128, 64], expected [96, 64]');
  });

  it('reports an unsupported architecture', async () => {
    const dir = await copyFixture('tiny-llama', 'arch');
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, architectures: ['GPT2LMHeadModel'] }));
    const [problem] = await problems(dir);
    expect(problem.code).toBe('unsupported_architecture');
    expect(problem.message).toMatch(/config\.json: unsupported architecture GPT2LMHeadModel/);
  });

  it('reports a directory that does not exist', async () => {
    expect(await problems(join(work, 'nowhere'))).toEqual([{ code: 'missing_file', message: `model directory ${join(work, 'nowhere')} does not exist` }]);
  });

  it('reports missing config.json and missing weights', async () => {
    const dir = join(work, 'empty');
    await cp(join(fixtures, 'tiny-llama', 'config.json'), join(dir, 'config.json'));
    expect((await problems(dir)).map((p) => p.code)).toEqual(['missing_file']);
    await rm(join(dir, 'config.json'));
    await writeFile(join(dir, 'model.safetensors'), new Uint8Array(4));
    expect((await problems(dir)).map((p) => p.code)).toEqual(['missing_file', 'truncated']);
  });
});
