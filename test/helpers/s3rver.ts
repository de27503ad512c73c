import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
// s3rver ships no type declarations; the surface used here is run() and close().
// @ts-expect-error -- untyped CommonJS module
import S3rver from 's3rver';

export interface RunningS3rver {
  /** `http://127.0.0.1:<port>` */
  readonly endpoint: string;
  readonly bucket: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** A client configured for this server, as the S3 store would build it. */
  readonly client: S3Client;
  stop(): Promise<void>;
  /** Closes the server but keeps its data: the store becomes unreachable (connection refused). */
  halt(): Promise<void>;
  /** Serves the kept data again on the same port after `halt`. */
  resume(): Promise<void>;
}

/**
 * A real S3 protocol server on 127.0.0.1 at a free port, storing under a fresh temp directory, with one
 * bucket created. `stop()` closes it and deletes the directory.
 */
export async function startS3rver(bucket = 'tidepool-test'): Promise<RunningS3rver> {
  const directory = await mkdtemp(path.join(tmpdir(), 'tidepool-s3rver-'));
  let server = new S3rver({ address: '127.0.0.1', port: 0, directory, silent: true, configureBuckets: [{ name: bucket }] });
  const address = (await server.run()) as AddressInfo;
  let running = true;
  const endpoint = `http://127.0.0.1:${address.port}`;
  // s3rver accepts this fixed key pair.
  const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
  const client = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  return {
    endpoint,
    bucket,
    credentials,
    client,
    stop: async () => {
      client.destroy();
      if (running) await server.close();
      running = false;
      await rm(directory, { recursive: true, force: true });
    },
    halt: async () => {
      if (running) await server.close();
      running = false;
    },
    resume: async () => {
      if (running) return;
      server = new S3rver({ address: '127.0.0.1', port: address.port, directory, silent: true, configureBuckets: [{ name: bucket }] });
      await server.run();
      running = true;
    },
  };
}
