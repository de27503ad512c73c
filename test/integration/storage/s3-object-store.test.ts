import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '../../../platform/storage/s3-object-store.js';
import { startS3rver, type RunningS3rver } from '../../helpers/s3rver.js';
import { objectStoreBehaviour } from './object-store-suite.js';

describe('S3ObjectStore on s3rver', () => {
  objectStoreBehaviour(async () => {
    const server = await startS3rver();
    // 5 MiB parts (S3's minimum) so the 12 MiB blob in the suite really goes multipart.
    const store = new S3ObjectStore({ bucket: server.bucket, prefix: 'suite/', client: server.client, uploadPartBytes: 5 * 2 ** 20 });
    return { store, close: server.stop };
  });

  describe('details', () => {
    let server: RunningS3rver;
    const commands: string[] = [];
    beforeAll(async () => {
      server = await startS3rver();
      server.client.middlewareStack.add(
        (next, context) => (args) => {
          commands.push(context.commandName as string);
          return next(args);
        },
        { step: 'initialize' },
      );
    });
    afterAll(async () => server?.stop());

    it('uploads large bodies in parts and small ones in one request', async () => {
      const store = new S3ObjectStore({ bucket: server.bucket, client: server.client, uploadPartBytes: 5 * 2 ** 20 });
      commands.length = 0;
      await store.put('big', Readable.from([randomBytes(11 * 2 ** 20)]));
      expect(commands.filter((name) => name === 'UploadPartCommand')).toHaveLength(3);
      expect(commands).toContain('CompleteMultipartUploadCommand');
      commands.length = 0;
      await store.put('small', Buffer.from('x'));
      expect(commands).toEqual(['PutObjectCommand']);
    });

    it('keeps installations apart by prefix', async () => {
      const a = new S3ObjectStore({ bucket: server.bucket, client: server.client, prefix: 'tenant-a/' });
      const b = new S3ObjectStore({ bucket: server.bucket, client: server.client, prefix: 'tenant-b/' });
      await a.put('blobs/one', Buffer.from('a'));
      expect(await b.head('blobs/one')).toBeNull();
      expect(await a.list('blobs/')).toEqual([{ key: 'blobs/one', size: 1, lastModified: expect.any(Date) }]);
      expect(await b.list('')).toEqual([]);
    });

    it('builds its own client from endpoint, region and credentials', async () => {
      const store = new S3ObjectStore({ bucket: server.bucket, endpoint: server.endpoint, region: 'us-east-1', credentials: server.credentials });
      await store.put('own-client', Readable.from([Buffer.from('ok')]), { size: 2 });
      expect(await store.head('own-client')).toEqual({ size: 2 });
      store.client.destroy();
    });
  });
});
