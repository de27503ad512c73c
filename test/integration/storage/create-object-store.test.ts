import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from '../../../platform/config.js';
import { createObjectStore } from '../../../platform/storage/create-object-store.js';
import { FsObjectStore } from '../../../platform/storage/fs-object-store.js';
import { S3ObjectStore } from '../../../platform/storage/s3-object-store.js';
import { startS3rver, type RunningS3rver } from '../../helpers/s3rver.js';

let server: RunningS3rver;
beforeAll(async () => {
  server = await startS3rver('tidepool-config');
});
afterAll(async () => server?.stop());

it('uses files under the data directory when no bucket is configured', () => {
  const store = createObjectStore(loadConfig({ TIDEPOOL_DATA_DIR: '/var/lib/tidepool' }));
  expect(store).toBeInstanceOf(FsObjectStore);
  expect((store as FsObjectStore).root).toBe(path.join('/var/lib/tidepool', 'objects'));
});

it('uses the configured bucket, endpoint and prefix when a bucket is set', async () => {
  const config = loadConfig({ TIDEPOOL_S3_BUCKET: server.bucket, TIDEPOOL_S3_ENDPOINT: server.endpoint, TIDEPOOL_S3_PREFIX: 'prod' });
  const store = createObjectStore(config, { s3Client: server.client });
  expect(store).toBeInstanceOf(S3ObjectStore);
  await store.put('blobs/sha256/0a', Buffer.from('weights'));
  const listed = await server.client.send(new ListObjectsV2Command({ Bucket: server.bucket }));
  expect(listed.Contents?.map((object) => object.Key)).toEqual(['prod/blobs/sha256/0a']);
});
