import type { Socket } from 'node:net';
import { checkSampling, engineSampling } from '../../protocol/sampling.js';
import { GrammarRegistrations } from './grammar-registrations.js';
import { EngineError } from './engine.js';
import type { Engine, EngineStats, KvMoveResult, LoadResult, ModelRef, SequenceGroupSpec, SequenceSink, SequenceSpec, TurnResult } from './engine.js';
import { LiveSequences } from './engine-sequences.js';
import { FrameDecoder, encodeFrame } from './frame-codec.js';
import { engineError, oneOf, replyError, toEngineStats, type WireMessage } from './engine-wire.js';
import { openSocket } from './open-engine-socket.js';
import type { WeightsDigest } from '../../protocol/weights-digest.js';

/** What the engine says about itself in its `hello` reply. */
export interface EngineHello {
  readonly backend: 'cpu' | 'cuda';
  readonly version: string;
  readonly device: string;
  readonly kvBlockTokens: number;
  readonly memory: EngineStats['memory'];
}

export interface ConnectEngineOptions {
  /** Path of the engine's Unix socket. */
  readonly socketPath: string;
  /** Give up connecting after this long. */
  readonly connectTimeoutMs?: number;
}

interface Pending {
  readonly op: string;
  resolve(message: WireMessage): void;
  reject(error: EngineError): void;
}

/**
 * `Engine` over the engine's Unix socket (docs/engine-protocol.md). One instance is one connection: when it
 * closes, for any reason, every pending command rejects and every live sequence ends with `error`, both
 * carrying `engine_down`; a new connection needs a new client (the supervisor makes one after a restart).
 */
export class EngineClient implements Engine {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly sequences = new LiveSequences();
  private readonly decoder = new FrameDecoder();
  private readonly closeListeners: ((reason: string) => void)[] = [];
  private downReason: string | undefined;
  /** Set when the socket went away; commands are refused from then on, before the drop is reported. */
  private closing = false;
  /** Explains a drop (the supervisor's exit status and stderr); awaited for up to a second. */
  private closeDetail: (() => Promise<string>) | undefined;
  private downDetail = '';
  hello!: EngineHello;
  private readonly registrations = new GrammarRegistrations((command) => this.request(command));

  private constructor(private readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.onSocketGone(`engine socket error: ${error.message}`));
    socket.on('close', () => this.onSocketGone('engine connection closed'));
  }

  /** Connects and performs `hello`. Rejects with `engine_down` when nothing listens on the socket. */
  static async connect(options: ConnectEngineOptions): Promise<EngineClient> {
    const socket = await openSocket(options.socketPath, options.connectTimeoutMs ?? 5_000);
    const client = new EngineClient(socket);
    const reply = await client.request({ op: 'hello' });
    client.hello = {
      backend: oneOf(reply.backend, ['cpu', 'cuda'] as const, 'hello.backend'),
      version: String(reply.version ?? ''),
      device: String(reply.device ?? ''),
      kvBlockTokens: Number(reply.kv_block_tokens ?? 0),
      memory: toEngineStats({ models: [], memory: reply.memory }).memory,
    };
    return client;
  }

  get backend(): 'cpu' | 'cuda' {
    return this.hello.backend;
  }

  /** True once the connection has dropped; every call then rejects with `engine_down`. */
  get isDown(): boolean {
    return this.closing || this.downReason !== undefined;
  }

  /** Called once, with the reason, when the connection drops. */
  onClose(listener: (reason: string) => void): void {
    if (this.downReason !== undefined) listener(this.downReason);
    else this.closeListeners.push(listener);
  }

  /** Lets the owner of the process explain a drop (exit code, stderr tail) in the errors it causes. */
  setCloseDetail(detail: () => Promise<string>): void {
    this.closeDetail = detail;
  }

  async load(model: ModelRef): Promise<LoadResult> {
    const reply = await this.request({ op: 'load', model: model.weightsDigest, dir: model.dir });
    return { bytes: Number(reply.bytes), ms: Number(reply.ms), cached: Boolean(reply.cached) };
  }

  async evict(weightsDigest: WeightsDigest, options?: { readonly force?: boolean }): Promise<void> {
    await this.request({ op: 'evict', model: weightsDigest, force: options?.force ?? false });
  }

  /**
   * Maps a model's files and readies them for copies (the CUDA backend pins them) without taking device
   * memory, so a later `load` only copies. The engine keeps a model mapped after `evict` as well.
   */
  async map(model: ModelRef): Promise<LoadResult> {
    const reply = await this.request({ op: 'map', model: model.weightsDigest, dir: model.dir });
    return { bytes: Number(reply.bytes), ms: Number(reply.ms), cached: Boolean(reply.cached) };
  }

  /** Drops the engine's mapping of a model that is not resident (after its files left shared memory). */
  async unmap(weightsDigest: WeightsDigest): Promise<{ readonly dropped: boolean }> {
    const reply = await this.request({ op: 'unmap', model: weightsDigest });
    return { dropped: Boolean(reply.dropped) };
  }

  async add(sequence: SequenceSpec, sink: SequenceSink): Promise<void> {
    const { id, ...shared } = sequence;
    await this.addGroup({ ...shared, members: [{ id, seed: sequence.sampling.seed }] }, [sink]);
  }

  /**
   * One `add`: `seq` for a single member, `seqs` + `seeds` for a group (docs/engine-protocol.md, "n > 1").
   * Every member's sink is live once the engine accepts it; a refusal leaves none registered.
   */
  async addGroup(group: SequenceGroupSpec, sinks: readonly SequenceSink[]): Promise<void> {
    const ids = group.members.map((m) => m.id);
    if (sinks.length !== ids.length) throw engineError('bad_request', `a group of ${ids.length} sequences needs as many sinks, got ${sinks.length}`);
    const live = this.sequences.firstLive(ids);
    if (live !== undefined) throw engineError('bad_request', `sequence ${live} is already live on this engine`);
    const registered = this.sequences.register(ids, sinks, group.promptTokens.length);
    try {
      const sampling = checkSampling(group.sampling);
      const members = ids.length === 1 ? { seq: ids[0] } : { seqs: ids, seeds: group.members.map((m) => m.seed) };
      const add = {
        op: 'add',
        ...members,
        model: group.weightsDigest,
        prompt: group.promptTokens,
        eos_ids: group.stopTokenIds,
        ...engineSampling(ids.length === 1 ? { ...sampling, seed: group.members[0]!.seed } : sampling),
      };
      if (!sampling.grammar) await this.request(add);
      else if (group.modelDir === undefined) throw engineError('bad_request', 'a sequence with a grammar needs its model directory (for the token bytes)');
      else await this.registrations.add(add, sampling.grammar, group.weightsDigest, group.modelDir);
      registered.accept();
    } catch (error) {
      registered.drop();
      throw error;
    }
  }

  async cancel(sequenceId: number): Promise<void> {
    try {
      await this.request({ op: 'cancel', seq: sequenceId });
    } catch (error) {
      // The contract ignores unknown ids: the sequence may have finished while the cancel was in flight.
      if (!(error instanceof EngineError && error.code === 'not_found')) throw error;
    }
  }

  async runTurn(weightsDigest: WeightsDigest, maxSteps: number): Promise<TurnResult> {
    const reply = await this.request({ op: 'run', model: weightsDigest, max_steps: maxSteps });
    return { steps: Number(reply.steps), reason: oneOf(reply.reason, TURN_REASONS, 'run.reason'), ms: Number(reply.ms) };
  }

  async preempt(): Promise<void> {
    await this.request({ op: 'preempt' });
  }

  async park(sequenceId: number): Promise<KvMoveResult> {
    const reply = await this.request({ op: 'park', seq: sequenceId });
    return { bytes: Number(reply.bytes), ms: Number(reply.ms) };
  }

  async restore(sequenceId: number): Promise<KvMoveResult> {
    const reply = await this.request({ op: 'restore', seq: sequenceId });
    return { bytes: Number(reply.bytes), ms: Number(reply.ms) };
  }

  async stats(): Promise<EngineStats> {
    return toEngineStats(await this.request({ op: 'stats' }));
  }

  /** Asks the engine process to exit. The supervisor uses SIGTERM instead; this is for standalone use. */
  async shutdown(): Promise<void> {
    await this.request({ op: 'shutdown' });
  }

  /**
   * Disconnects. The engine cancels this connection's sequences when the client goes; here every live sink
   * ends with `error` at once rather than waiting for events that will not come.
   */
  async close(): Promise<void> {
    this.markDown('engine client closed');
    this.socket.destroy();
  }

  private request(command: Record<string, unknown>): Promise<WireMessage> {
    if (this.isDown) return Promise.reject(engineError('engine_down', this.downReason ? this.downMessage() : 'engine connection lost'));
    const id = this.nextId++;
    return new Promise<WireMessage>((resolve, reject) => {
      this.pending.set(id, { op: String(command.op), resolve, reject });
      this.socket.write(encodeFrame({ ...command, id }));
    });
  }

  private onData(chunk: Buffer): void {
    let messages: unknown[];
    try {
      messages = this.decoder.push(chunk);
    } catch (error) {
      return this.protocolError(`engine sent a bad frame: ${(error as Error).message}`);
    }
    for (const message of messages) {
      if (typeof message === 'object' && message !== null && !Array.isArray(message)) this.dispatch(message as WireMessage);
      else return this.protocolError(`engine sent a frame that is not a JSON object: ${JSON.stringify(message).slice(0, 100)}`);
    }
  }

  /** A frame this client cannot read: the connection is dropped like a crash, so the supervisor restarts. */
  private protocolError(reason: string): void {
    this.onSocketGone(reason);
    this.socket.destroy();
  }

  private dispatch(message: WireMessage): void {
    if (message.type === 'ok' || message.type === 'error') this.settle(message);
    else if (message.type === 'step') this.sequences.onStep(message);
    else if (message.type === 'done') this.sequences.onDone(message);
  }

  private settle(message: WireMessage): void {
    const id = Number(message.re);
    const pending = this.pending.get(id);
    if (!pending) return;
    this.pending.delete(id);
    if (message.type === 'ok') return pending.resolve(message);
    pending.reject(replyError(pending.op, message));
  }

  private downMessage(): string {
    return this.downDetail ? `${this.downReason}: ${this.downDetail}` : (this.downReason ?? 'engine down');
  }

  /** Waits briefly for the process owner's explanation, so callers learn why, not just that, it dropped. */
  private onSocketGone(reason: string): void {
    if (this.closing || this.downReason !== undefined) return;
    this.closing = true;
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve(''), 1_000).unref());
    const detail = this.closeDetail ? Promise.race([this.closeDetail(), timeout]) : Promise.resolve('');
    void detail.then(
      (text) => this.markDown(reason, text),
      () => this.markDown(reason, ''),
    );
  }

  private markDown(reason: string, detail = ''): void {
    if (this.downReason !== undefined) return;
    this.downReason = reason;
    this.downDetail = detail;
    const message = this.downMessage();
    for (const pending of this.pending.values()) pending.reject(engineError('engine_down', `${pending.op}: ${message}`));
    this.pending.clear();
    this.sequences.endAll(message);
    for (const listener of this.closeListeners.splice(0)) listener(reason);
  }
}

const TURN_REASONS = ['quota', 'idle', 'preempted', 'not_resident'] as const;
