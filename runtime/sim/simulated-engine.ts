import { EngineError } from '../engine/engine.js';
import type { Engine, EngineStats, KvMoveResult, LoadResult, ModelRef, SequenceGroupSpec, SequenceSink, SequenceSpec, TurnResult } from '../engine/engine.js';
import type { Clock } from '../scheduler/clock.js';
import type { SimGpuSpec, SimModelShape, StepCostModel } from './sim-types.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

export interface SimulatedEngineOptions {
  readonly clock: Clock;
  readonly gpu: SimGpuSpec;
  readonly costs: StepCostModel;
  /** Shape of a model by its ref (the simulator's catalogue). Throwing makes `load` fail with `bad_model`. */
  readonly describe: (model: ModelRef) => SimModelShape;
  /** Bytes of the weights arena; the rest of `gpu.memoryBytes` is the KV pool. */
  readonly weightsArenaBytes: number;
  /** Most sequences in one model's batch. */
  readonly maxBatch?: number;
  /** Most prompt tokens prefilled in one step (at least one sequence is always admitted if its KV fits). */
  readonly maxPrefillTokens?: number;
  /**
   * A decode instance of a disaggregated cluster: every sequence arrives with its prompt's KV already
   * computed (by a prefill instance) and waiting in host memory. Admitting sequences then copies their KV in
   * on the copy stream, and the step waits for that copy and decodes the batch, instead of prefilling.
   */
  readonly prefilledElsewhere?: boolean;
}

/** Batch and prefill limits when the options leave them out: at most 256 sequences a batch, 8192 prompt tokens a prefill step. */
export const SIM_ENGINE_DEFAULTS = Object.freeze({ maxBatch: 256, maxPrefillTokens: 8192 });

interface SimModel {
  readonly ref: ModelRef;
  readonly shape: SimModelShape;
  state: 'loading' | 'resident';
  ready: Promise<void>;
}

interface SimSequence {
  readonly spec: SequenceSpec;
  readonly sink: SequenceSink;
  state: 'waiting' | 'running' | 'parked';
  generated: number;
  /** KV bytes reserved on the device (prompt + max tokens, reserved at admission). */
  reserved: number;
  /** The members of its group (`addGroup`), itself included, in order; absent for a lone sequence. */
  readonly group?: readonly SimSequence[];
}

/**
 * An `Engine` on a virtual clock. Compute (turns) and copies (loads, park, restore) are two timelines that
 * overlap, as the CUDA engine's compute and copy streams do. A step is a prefill step when it admits
 * sequences and a decode step otherwise, as in vLLM without chunked prefill (which the calibration measured).
 * Deterministic: token ids depend only on (seed, position). A group (`addGroup`) is admitted whole, its prompt
 * prefilled once and its KV held once plus each member's own output, as the engine's fork does.
 */
export class SimulatedEngine implements Engine {
  readonly backend = 'sim' as const;
  private readonly models = new Map<string, SimModel>();
  private readonly seqs = new Map<number, SimSequence>();
  private weightsBytes = 0;
  private kvUsed = 0;
  private copyFreeAt = 0;
  private turnChain: Promise<unknown> = Promise.resolve();
  private preemptEpoch = 0;
  private readonly kvBudget: number;
  private readonly maxBatch: number;
  private readonly maxPrefillTokens: number;
  /** Total ms spent in steps, for utilisation. */
  busyMs = 0;
  /** Prompt tokens a group's members did not prefill (they share their group's prefill). */
  private prefillTokensSaved = 0;

  constructor(private readonly o: SimulatedEngineOptions) {
    this.kvBudget = o.gpu.memoryBytes - o.weightsArenaBytes;
    this.maxBatch = o.maxBatch ?? SIM_ENGINE_DEFAULTS.maxBatch;
    this.maxPrefillTokens = o.maxPrefillTokens ?? SIM_ENGINE_DEFAULTS.maxPrefillTokens;
  }

  async load(ref: ModelRef): Promise<LoadResult> {
    const existing = this.models.get(ref.weightsDigest);
    if (existing) {
      const cached = existing.state === 'resident';
      await existing.ready;
      return { bytes: existing.shape.weightBytes, ms: 0, cached };
    }
    let shape: SimModelShape;
    try {
      shape = this.o.describe(ref);
    } catch (err) {
      throw new EngineError('bad_model', (err as Error).message);
    }
    if (this.weightsBytes + shape.weightBytes > this.o.weightsArenaBytes) {
      throw new EngineError('out_of_memory', `weights arena full: ${ref.weightsDigest} needs ${shape.weightBytes} bytes`);
    }
    this.weightsBytes += shape.weightBytes;
    const ms = shape.weightBytes / this.o.gpu.h2dBytesPerMs + this.o.gpu.loadOverheadMs;
    const model: SimModel = { ref, shape, state: 'loading', ready: Promise.resolve() };
    model.ready = this.copy(ms).then(() => {
      model.state = 'resident';
    });
    this.models.set(ref.weightsDigest, model);
    await model.ready;
    return { bytes: shape.weightBytes, ms, cached: false };
  }

  async evict(weightsDigest: WeightsDigest, options?: { readonly force?: boolean }): Promise<void> {
    const model = this.models.get(weightsDigest);
    if (!model) return;
    const running = [...this.seqs.values()].filter((s) => s.spec.weightsDigest === weightsDigest && s.state === 'running');
    if (running.length > 0 && !options?.force) throw new EngineError('busy', `${weightsDigest} has ${running.length} running sequences`);
    for (const s of running) this.finish(s, 'cancelled');
    await model.ready;
    this.models.delete(weightsDigest);
    this.weightsBytes -= model.shape.weightBytes;
  }

  async add(spec: SequenceSpec, sink: SequenceSink): Promise<void> {
    if (this.seqs.has(spec.id)) throw new EngineError('bad_request', `sequence ${spec.id} exists`);
    if (spec.promptTokens.length === 0) throw new EngineError('bad_request', 'empty prompt');
    this.seqs.set(spec.id, { spec, sink, state: 'waiting', generated: 0, reserved: 0 });
  }

  async addGroup(group: SequenceGroupSpec, sinks: readonly SequenceSink[]): Promise<void> {
    const { members, ...shared } = group;
    if (members.length === 0 || sinks.length !== members.length) throw new EngineError('bad_request', 'a group needs one sink per member');
    if (members.some((m) => this.seqs.has(m.id))) throw new EngineError('bad_request', 'a group member exists');
    if (group.promptTokens.length === 0) throw new EngineError('bad_request', 'empty prompt');
    const seqs: SimSequence[] = [];
    members.forEach((m, i) => {
      const spec = { ...shared, id: m.id, sampling: { ...group.sampling, seed: m.seed } };
      seqs.push({ spec, sink: sinks[i]!, state: 'waiting', generated: 0, reserved: 0, group: seqs });
    });
    for (const seq of seqs) this.seqs.set(seq.spec.id, seq);
  }

  async cancel(sequenceId: number): Promise<void> {
    const s = this.seqs.get(sequenceId);
    if (s) this.finish(s, 'cancelled');
  }

  runTurn(weightsDigest: WeightsDigest, maxSteps: number): Promise<TurnResult> {
    const epoch = this.preemptEpoch;
    const turn = this.turnChain.then(() => this.turn(weightsDigest, maxSteps, epoch));
    this.turnChain = turn.catch(() => undefined);
    return turn;
  }

  async preempt(): Promise<void> {
    this.preemptEpoch++;
  }

  async park(sequenceId: number): Promise<KvMoveResult> {
    const s = this.mustGet(sequenceId);
    if (s.state !== 'running') return { bytes: 0, ms: 0 };
    const bytes = this.kvBytes(s);
    this.kvUsed -= s.reserved;
    s.reserved = 0;
    s.state = 'parked';
    const ms = bytes / this.o.gpu.h2dBytesPerMs;
    await this.copy(ms);
    return { bytes, ms };
  }

  async restore(sequenceId: number): Promise<KvMoveResult> {
    const s = this.mustGet(sequenceId);
    if (s.state !== 'parked') return { bytes: 0, ms: 0 };
    const need = this.reservation(s);
    if (this.kvUsed + need > this.kvBudget) throw new EngineError('out_of_memory', 'KV pool full');
    this.kvUsed += need;
    s.reserved = need;
    const bytes = this.kvBytes(s);
    const ms = bytes / this.o.gpu.h2dBytesPerMs;
    await this.copy(ms);
    s.state = 'running';
    return { bytes, ms };
  }

  /**
   * Moves `bytes` of KV to host memory on the copy stream (a prefill instance handing a sequence to a decode
   * instance). Resolves when the copy is done.
   */
  copyToHost(bytes: number): Promise<void> {
    return this.copy(bytes / this.o.gpu.h2dBytesPerMs);
  }

  async stats(): Promise<EngineStats> {
    const count = (key: string, state: SimSequence['state']) => [...this.seqs.values()].filter((s) => s.spec.weightsDigest === key && s.state === state).length;
    return {
      prefillTokensSaved: this.prefillTokensSaved,
      models: [...this.models.values()].map((m) => ({
        weightsDigest: m.ref.weightsDigest,
        bytes: m.shape.weightBytes,
        state: m.state,
        running: count(m.ref.weightsDigest, 'running'),
        waiting: count(m.ref.weightsDigest, 'waiting'),
        parked: count(m.ref.weightsDigest, 'parked'),
      })),
      memory: {
        budgetBytes: this.o.gpu.memoryBytes,
        weightsBytes: this.weightsBytes,
        kvBytes: this.kvBudget,
        kvBlocksTotal: Math.floor(this.kvBudget / 1e6),
        kvBlocksUsed: Math.ceil(this.kvUsed / 1e6),
        scratchBytes: 0,
        // Host mappings and the device arena are not modelled: switch cost comes from the cost model.
        mappedBytes: this.weightsBytes,
        hostPinnedBytes: 0,
        hostStagedBytes: 0,
        deviceReservedBytes: 0,
        deviceWeightsBytes: 0,
        deviceWeightsUsedBytes: 0,
        deviceWeightsLargestFreeBytes: 0,
      },
    };
  }

  async close(): Promise<void> {
    for (const s of [...this.seqs.values()]) this.finish(s, 'error', new EngineError('engine_down', 'engine closed'));
  }

  /** Sequences the engine holds, by state, of one model or of all (for tests and invariants). */
  sequenceCount(state: SimSequence['state'], weightsDigest?: WeightsDigest): number {
    return [...this.seqs.values()].filter((s) => s.state === state && (weightsDigest === undefined || s.spec.weightsDigest === weightsDigest)).length;
  }

  private async turn(weightsDigest: WeightsDigest, maxSteps: number, epoch: number): Promise<TurnResult> {
    const started = this.o.clock.now();
    const model = this.models.get(weightsDigest);
    if (model?.state !== 'resident') return { steps: 0, reason: 'not_resident', ms: 0 };
    let steps = 0;
    for (;;) {
      if (epoch !== this.preemptEpoch) return { steps, reason: 'preempted', ms: this.o.clock.now() - started };
      if (steps >= maxSteps) return { steps, reason: 'quota', ms: this.o.clock.now() - started };
      if (!(await this.step(model))) return { steps, reason: 'idle', ms: this.o.clock.now() - started };
      steps++;
    }
  }

  /** One forward pass; false when the model had nothing to run. */
  private async step(model: SimModel): Promise<boolean> {
    const admitted = this.admit(model);
    if (admitted.length > 0 && this.o.prefilledElsewhere) await this.copy(admitted.reduce((n, s) => n + this.kvBytes(s), 0) / this.o.gpu.h2dBytesPerMs);
    const prefill = admitted.length > 0 && !this.o.prefilledElsewhere;
    const batch = prefill ? admitted : this.running(model.ref.weightsDigest);
    if (batch.length === 0) return false;
    let ms: number;
    if (prefill) {
      // A group's prompt is prefilled once (its first member's); the others fork that KV.
      const tokens = admitted.reduce((n, s) => n + (s.group && s.group.find((m) => admitted.includes(m)) !== s ? 0 : s.spec.promptTokens.length), 0);
      ms = this.o.costs.prefillMs(model.shape.shape, tokens, admitted.length);
    } else {
      const context = batch.reduce((n, s) => n + s.spec.promptTokens.length + s.generated, 0) / batch.length;
      ms = this.o.costs.decodeMs(model.shape.shape, batch.length, context);
    }
    await this.o.clock.sleep(ms);
    this.busyMs += ms;
    for (const s of batch) if (this.seqs.get(s.spec.id) === s && s.state === 'running') this.emit(s);
    return true;
  }

  private admit(model: SimModel): SimSequence[] {
    const out: SimSequence[] = [];
    let tokens = 0;
    let batch = this.running(model.ref.weightsDigest).length;
    for (const s of this.seqs.values()) {
      if (s.spec.weightsDigest !== model.ref.weightsDigest || s.state !== 'waiting') continue;
      // A group comes in whole with its first waiting member: one prompt, each member's own output KV.
      const members = s.group ? s.group.filter((m) => m.state === 'waiting' && this.seqs.get(m.spec.id) === m) : [s];
      const needs = members.map((m, i) => (i === 0 ? this.reservation(m) : m.spec.sampling.max_tokens * this.shapeOf(m).kvBytesPerToken));
      const need = needs.reduce((a, b) => a + b, 0);
      const prompt = s.spec.promptTokens.length;
      if (batch + members.length > this.maxBatch || this.kvUsed + need > this.kvBudget) break;
      if (out.length > 0 && tokens + prompt > this.maxPrefillTokens && !this.o.prefilledElsewhere) break;
      members.forEach((m, i) => {
        m.reserved = needs[i]!;
        m.state = 'running';
        out.push(m);
      });
      this.kvUsed += need;
      this.prefillTokensSaved += prompt * (members.length - 1);
      tokens += prompt;
      batch += members.length;
    }
    return out;
  }

  private emit(s: SimSequence): void {
    s.generated++;
    const token = 1000 + ((s.spec.sampling.seed * 7919 + s.generated * 104729) % 30000);
    s.sink.onToken(token);
    if (s.spec.stopTokenIds.includes(token)) this.finish(s, 'stop');
    else if (s.generated >= s.spec.sampling.max_tokens) this.finish(s, 'length');
  }

  private finish(s: SimSequence, reason: 'stop' | 'length' | 'cancelled' | 'error', error?: EngineError): void {
    if (this.seqs.get(s.spec.id) !== s) return;
    this.seqs.delete(s.spec.id);
    this.kvUsed -= s.reserved;
    s.reserved = 0;
    s.sink.onDone(reason, { promptTokens: s.spec.promptTokens.length, completionTokens: s.generated }, error);
  }

  private running(weightsDigest: WeightsDigest): SimSequence[] {
    const out: SimSequence[] = [];
    for (const s of this.seqs.values()) if (s.spec.weightsDigest === weightsDigest && s.state === 'running') out.push(s);
    return out;
  }

  private reservation(s: SimSequence): number {
    return (s.spec.promptTokens.length + s.spec.sampling.max_tokens) * this.shapeOf(s).kvBytesPerToken;
  }

  private kvBytes(s: SimSequence): number {
    return (s.spec.promptTokens.length + s.generated) * this.shapeOf(s).kvBytesPerToken;
  }

  private shapeOf(s: SimSequence): SimModelShape {
    const m = this.models.get(s.spec.weightsDigest);
    if (m) return m.shape;
    return this.o.describe({ weightsDigest: s.spec.weightsDigest, dir: '', bytes: 0 });
  }

  /** Occupies the copy stream for `ms` and resolves when this copy completes. */
  private copy(ms: number): Promise<void> {
    const now = this.o.clock.now();
    const start = Math.max(now, this.copyFreeAt);
    this.copyFreeAt = start + ms;
    return this.o.clock.sleep(this.copyFreeAt - now);
  }

  private mustGet(id: number): SimSequence {
    const s = this.seqs.get(id);
    if (!s) throw new EngineError('not_found', `sequence ${id}`);
    return s;
  }
}
