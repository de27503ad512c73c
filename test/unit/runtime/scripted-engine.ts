/** A scripted peer on a real Unix socket (the engine's side of the protocol): the test decides how to answer each command. */
import type { Server, Socket } from 'node:net';
import { FrameDecoder, encodeFrame } from '../../../runtime/engine/frame-codec.js';

export type Command = Record<string, unknown> & { op: string; id: number };

/** A scripted peer on a real Unix socket: the test decides how to answer each command. */
export class ScriptedEngine {
  readonly commands: Command[] = [];
  socket: Socket | undefined;
  private waiters: ((command: Command) => void)[] = [];

  constructor(readonly server: Server) {
    server.on('connection', (socket) => {
      this.socket = socket;
      const decoder = new FrameDecoder();
      socket.on('data', (chunk) => {
        for (const message of decoder.push(chunk)) {
          const command = message as Command;
          if (command.op === 'hello') {
            this.send({ type: 'ok', re: command.id, backend: 'cpu', version: 't', device: 'cpu', kv_block_tokens: 16, memory: { budget_bytes: 1024 } });
            continue;
          }
          this.commands.push(command);
          this.waiters.shift()?.(command);
        }
      });
    });
  }

  next(): Promise<Command> {
    const queued = this.commands.shift();
    if (queued) return Promise.resolve(queued);
    return new Promise((resolve) => this.waiters.push((command) => resolve(this.commands.shift() ?? command)));
  }

  send(message: object): void {
    this.socket!.write(encodeFrame(message));
  }
}
