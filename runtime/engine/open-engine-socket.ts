/**
 * Connecting to an engine's Unix socket within a time limit. Apart from the client because it comes
 * before there is one: a failed or slow connect rejects with `engine_down` naming the socket's path.
 */
import { connect, type Socket } from 'node:net';
import { engineError } from './engine-wire.js';

export function openSocket(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(engineError('engine_down', `no engine answered on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(engineError('engine_down', `cannot connect to engine at ${path}: ${error.message}`));
    });
  });
}
