#!/usr/bin/env node
// A stand-in for `tidepool-engine serve` that speaks protocol v1 with trivial arithmetic instead of a model:
// each step, every running sequence emits (last token + 1). It lets the runtime's process supervision and
// request plumbing be tested where the real engine is not built. STUB_ENGINE_MODE=crash exits before ready
// (its last stderr line the engine's fatal line); STUB_ENGINE_MODE=warn writes a plain and a warning stderr line;
// STUB_ENGINE_STEP_MS sets the time per step; STUB_ENGINE_SAY is written to stderr at start. A model directory holding a file named BAD_MODEL fails to load;
// one holding DEVICE_LOST loads, then its first turn fails as a device fault does: every sequence ends with a
// `device_lost:` message, the turn is answered device_lost and the process exits 3.
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';

const args = process.argv.slice(2);
const socketPath = args[args.indexOf('--socket') + 1];
const backend = args[args.indexOf('--backend') + 1];
const stepMs = Number(process.env.STUB_ENGINE_STEP_MS ?? 5);
if (process.env.STUB_ENGINE_MODE === 'crash') {
  process.stderr.write('tidepool-engine: fatal: internal: stub engine told to crash\n');
  process.exit(3);
}
if (process.env.STUB_ENGINE_MODE === 'warn') {
  process.stderr.write('stub engine: starting\n');
  process.stderr.write('tidepool-engine: warning: stub mappings go through the staging ring\n');
}
// STUB_ENGINE_SAY: a line for stderr at start, so crash reports have a tail to quote.
if (process.env.STUB_ENGINE_SAY) process.stderr.write(`${process.env.STUB_ENGINE_SAY}\n`);

const models = new Map(); // key -> bytes
const lostDevices = new Set(); // models whose first turn faults
const sequences = new Map(); // seq -> { model, last, produced, max, prompt }
let socket;
let turns = Promise.resolve();
// `preempt` bumps the epoch: the running turn stops at its next step and turns queued before it run no steps.
let epoch = 0;

function send(message) {
  const payload = Buffer.from(JSON.stringify(message));
  const header = Buffer.alloc(4);
  header.writeUInt32LE(payload.length, 0);
  socket?.write(Buffer.concat([header, payload]));
}

function finish(seq, reason, message, code) {
  const state = sequences.get(seq);
  sequences.delete(seq);
  send({
    type: 'done',
    seq,
    reason,
    prompt_tokens: state.prompt,
    completion_tokens: state.produced,
    ...(message ? { message } : {}),
    ...(code ? { code } : {}),
  });
}

function loseDevice(command) {
  const message = 'device_lost: forward of slot 0: cudaErrorIllegalAddress (stub)';
  for (const seq of [...sequences.keys()]) finish(seq, 'error', message, 'device_lost');
  send({ type: 'error', re: command.id, code: 'device_lost', message });
  process.stderr.write(`tidepool-engine: fatal: ${message}\n`);
  socket?.end(() => process.exit(3));
}

async function runTurn(model, maxSteps, queuedAt) {
  let steps = 0;
  while (steps < maxSteps) {
    if (epoch !== queuedAt) return { steps, reason: 'preempted' };
    const batch = [...sequences.entries()].filter(([, s]) => s.model === model);
    if (batch.length === 0) return { steps, reason: 'idle' };
    await new Promise((resolve) => setTimeout(resolve, stepMs));
    steps++;
    const tokens = [];
    for (const [seq, s] of batch) {
      if (!sequences.has(seq)) continue;
      s.last += 1;
      s.produced += 1;
      tokens.push([seq, s.last]);
    }
    send({ type: 'step', model, ms: stepMs, tokens });
    for (const [seq, s] of batch) if (sequences.has(seq) && s.produced >= s.max) finish(seq, 'length');
  }
  return { steps, reason: 'quota' };
}

function handle(command) {
  const ok = (fields = {}) => send({ type: 'ok', re: command.id, ...fields });
  const error = (code, message) => send({ type: 'error', re: command.id, code, message });
  switch (command.op) {
    case 'hello':
      return ok({ backend, version: 'stub', device: 'stub', kv_block_tokens: 16, memory: { budget_bytes: 1 } });
    case 'load':
      if (existsSync(join(command.dir, 'BAD_MODEL'))) return error('bad_model', 'unsupported architecture');
      if (existsSync(join(command.dir, 'DEVICE_LOST'))) lostDevices.add(command.model);
      models.set(command.model, 1);
      return ok({ bytes: 1, ms: 0, cached: false });
    case 'evict':
      models.delete(command.model);
      return ok({ bytes: 1 });
    case 'add':
      sequences.set(command.seq, {
        model: command.model,
        last: command.prompt.at(-1) ?? 0,
        produced: 0,
        max: command.max_tokens,
        prompt: command.prompt.length,
      });
      return ok();
    case 'cancel':
      if (!sequences.has(command.seq)) return error('not_found', 'no such sequence');
      ok();
      return finish(command.seq, 'cancelled');
    case 'run':
      if (!models.has(command.model)) return ok({ steps: 0, reason: 'not_resident', ms: 0 });
      if (lostDevices.has(command.model)) return loseDevice(command);
      {
        const queuedAt = epoch;
        turns = turns.then(() => runTurn(command.model, command.max_steps, queuedAt)).then((r) => ok({ ...r, ms: r.steps * stepMs }));
      }
      return undefined;
    case 'preempt':
      epoch++;
      return ok({ steps: 0 });
    case 'stats':
      return ok({
        models: [...models.keys()].map((model) => ({ model, bytes: 1, state: 'resident', running: 0, waiting: 0, parked: 0 })),
        memory: { budget_bytes: 1 },
      });
    case 'shutdown':
      ok();
      return setTimeout(() => process.exit(0), 10);
    default:
      return error('unsupported', `op ${command.op}`);
  }
}

const server = createServer((connection) => {
  socket = connection;
  let buffered = Buffer.alloc(0);
  connection.on('data', (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32LE(0)) {
      const length = buffered.readUInt32LE(0);
      handle(JSON.parse(buffered.subarray(4, 4 + length).toString()));
      buffered = buffered.subarray(4 + length);
    }
  });
  connection.on('close', () => sequences.clear());
});
server.listen(socketPath, () => process.stdout.write(`${JSON.stringify({ ready: true, socket: socketPath, backend })}\n`));
process.on('SIGTERM', () => process.exit(0));
