import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, engineMemoryBytes, loadConfig } from '../../platform/config.js';
import { CONFIG_VARIABLES } from '../../platform/config-variables.js';

const GiB = 2 ** 30;

describe('loadConfig', () => {
  it('runs local mode with no variables at all', () => {
    const config = loadConfig({}, { cwd: '/srv/app' });
    expect(config).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      dataDir: '/srv/app/.tidepool',
      databaseUrl: undefined,
      s3Bucket: undefined,
      s3Region: 'us-east-1',
      s3Prefix: '',
      s3ForcePathStyle: false,
      shmDir: '/dev/shm/tidepool',
      hostPoolBytes: 8 * GiB,
      engineBackend: 'auto',
      gpuMemoryBytes: undefined,
      schedulerPolicy: 'tidepool',
      queueLimit: 64,
      queueTimeoutMs: 30_000,
      deployExamples: true,
      logLevel: 'info',
      apiUrl: 'http://127.0.0.1:8080',
      apiKey: undefined,
      maxBodyBytes: 2 ** 20,
      maxUploadBytes: 64 * GiB,
    });
    expect(config.engineBin.endsWith(path.join('cuda', 'build', 'tidepool-engine'))).toBe(true);
    expect(config.engineThreads).toBeGreaterThan(0);
  });

  it('gives the CPU engine a 4 GiB budget unless one is set', () => {
    expect(engineMemoryBytes(loadConfig({}), 'cpu')).toBe(4 * GiB);
    expect(engineMemoryBytes(loadConfig({}), 'cuda')).toBeUndefined();
    expect(engineMemoryBytes(loadConfig({ TIDEPOOL_GPU_MEMORY_BYTES: '2GiB' }), 'cpu')).toBe(2 * GiB);
  });

  it('reads cluster settings and parses units', () => {
    const config = loadConfig({
      DATABASE_URL: 'postgres://tidepool:secret@db:5432/tidepool',
      TIDEPOOL_S3_BUCKET: 'weights',
      TIDEPOOL_S3_ENDPOINT: 'http://minio:9000',
      TIDEPOOL_S3_PREFIX: '/prod',
      TIDEPOOL_HOST_POOL_BYTES: '512MiB',
      TIDEPOOL_PORT: '0',
      TIDEPOOL_DEPLOY_EXAMPLES: 'no',
      TIDEPOOL_ENGINE_BACKEND: 'cpu',
      TIDEPOOL_LOG_LEVEL: '',
    });
    expect(config.databaseUrl).toBe('postgres://tidepool:secret@db:5432/tidepool');
    expect(config.s3ForcePathStyle).toBe(true);
    expect(config.s3Prefix).toBe('prod/');
    expect(config.hostPoolBytes).toBe(512 * 2 ** 20);
    expect(config.port).toBe(0);
    expect(config.deployExamples).toBe(false);
    expect(config.engineBackend).toBe('cpu');
    expect(config.logLevel).toBe('info');
  });

  it('accepts every policy a node runs by name, refuses the simulator-only ones with the reason, and refuses others', () => {
    for (const policy of ['tidepool', 'aegaeon-unified', 'request-level', 'request-level+srtf']) {
      expect(loadConfig({ TIDEPOOL_SCHEDULER_POLICY: policy }).schedulerPolicy).toBe(policy);
    }
    expect(() => loadConfig({ TIDEPOOL_SCHEDULER_POLICY: 'aegaeon' })).toThrow(
      /"aegaeon" is simulator-only \(the published Aegaeon runs disaggregated prefill and decode instances.*tidepool plan --policies aegaeon/,
    );
    expect(() => loadConfig({ TIDEPOOL_SCHEDULER_POLICY: 'static-colocation' })).toThrow(/"static-colocation" is simulator-only \(its placement/);
    expect(() => loadConfig({ TIDEPOOL_SCHEDULER_POLICY: 'dedicated' })).toThrow(
      /"dedicated" is simulator-only .*a node runs one of tidepool, aegaeon-unified, request-level, request-level\+srtf/,
    );
    expect(() => loadConfig({ TIDEPOOL_SCHEDULER_POLICY: 'fifo' })).toThrow(
      /TIDEPOOL_SCHEDULER_POLICY must be one of tidepool, aegaeon-unified, request-level, request-level\+srtf, got "fifo"/,
    );
  });

  it('reads a stable node id and a down-node retention, refusing ids that cannot travel in a URL path', () => {
    expect(loadConfig({}).nodeId).toBeUndefined();
    expect(loadConfig({}).nodeDownRetentionMs).toBe(3_600_000);
    expect(loadConfig({ TIDEPOOL_NODE_ID: 'ip-10-0-3-7.ec2.internal' }).nodeId).toBe('ip-10-0-3-7.ec2.internal');
    expect(() => loadConfig({ TIDEPOOL_NODE_ID: 'gpu/7' })).toThrow(/TIDEPOOL_NODE_ID must be 1-128 letters, .*got "gpu\/7"/);
    expect(() => loadConfig({ TIDEPOOL_NODE_DOWN_RETENTION_MS: '5000' })).toThrow(
      /TIDEPOOL_NODE_DOWN_RETENTION_MS must be larger than TIDEPOOL_NODE_DOWN_AFTER_MS/,
    );
  });

  it('reads the devices a node drives', () => {
    expect(loadConfig({}).gpus).toBe('all');
    expect(loadConfig({}).cpuEngines).toBe(1);
    expect(loadConfig({ TIDEPOOL_GPUS: '0, 2', TIDEPOOL_CPU_ENGINES: '3' })).toMatchObject({ gpus: [0, 2], cpuEngines: 3 });
    expect(() => loadConfig({ TIDEPOOL_GPUS: '0,0' })).toThrow(/TIDEPOOL_GPUS must be "all" or distinct device ordinals/);
    expect(() => loadConfig({ TIDEPOOL_GPUS: 'first' })).toThrow(/TIDEPOOL_GPUS/);
    expect(() => loadConfig({ TIDEPOOL_CPU_ENGINES: '0' })).toThrow(/TIDEPOOL_CPU_ENGINES must be between 1 and 64/);
  });

  it('reports every problem at once', () => {
    const env = {
      TIDEPOOL_PORT: '80800',
      TIDEPOOL_HOST_POOL_BYTES: 'lots',
      TIDEPOOL_ENGINE_BACKEND: 'tpu',
      TIDEPOOL_QUEUE_LIMIT: '1.5',
      TIDEPOOL_DEPLOY_EXAMPLES: 'maybe',
      DATABASE_URL: 'mysql://root:hunter2@db/x',
      TIDEPOOL_S3_ENDPOINT: 'http://minio:9000',
    };
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    for (const name of [
      'TIDEPOOL_PORT',
      'TIDEPOOL_HOST_POOL_BYTES',
      'TIDEPOOL_ENGINE_BACKEND',
      'TIDEPOOL_QUEUE_LIMIT',
      'TIDEPOOL_DEPLOY_EXAMPLES',
      'DATABASE_URL',
      'TIDEPOOL_S3_BUCKET',
    ]) {
      expect(
        problems.some((problem) => problem.includes(name)),
        name,
      ).toBe(true);
    }
    expect(problems).toHaveLength(7);
    expect((error as ConfigError).message).not.toContain('hunter2');
  });

  it('returns a frozen config', () => {
    const config = loadConfig({});
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.unknownVariables)).toBe(true);
    expect(() => {
      (config as { port: number }).port = 1;
    }).toThrow(TypeError);
  });

  it('lists unknown TIDEPOOL_ variables so typos can be warned about', () => {
    expect(loadConfig({ TIDEPOOL_PROT: '1', TIDEPOOL_PORT: '1' }).unknownVariables).toEqual(['TIDEPOOL_PROT']);
  });
});

describe('CONFIG_VARIABLES', () => {
  it('describes every variable once, with a default', () => {
    const names = CONFIG_VARIABLES.map((variable) => variable.name);
    expect(new Set(names).size).toBe(names.length);
    expect(names).toContain('DATABASE_URL');
    for (const variable of CONFIG_VARIABLES) {
      expect(variable.description.length, variable.name).toBeGreaterThan(10);
      expect(variable.default.length, variable.name).toBeGreaterThan(0);
    }
  });

  it('is documented in docs/configuration.md', () => {
    const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    for (const variable of CONFIG_VARIABLES) expect(docs, variable.name).toContain(`\`${variable.name}\``);
  });
});
