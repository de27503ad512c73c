import path from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import type { TidepoolConfig } from '../config.js';
import { FsObjectStore } from './fs-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3-object-store.js';

export type ObjectStoreConfig = Pick<TidepoolConfig, 'dataDir' | 's3Bucket' | 's3Endpoint' | 's3Region' | 's3Prefix' | 's3ForcePathStyle'>;

/** S3 when `TIDEPOOL_S3_BUCKET` is set (cluster mode), otherwise files under `<dataDir>/objects` (local mode). */
export function createObjectStore(config: ObjectStoreConfig, dependencies: { readonly s3Client?: S3Client } = {}): ObjectStore {
  if (config.s3Bucket === undefined) return new FsObjectStore(path.join(config.dataDir, 'objects'));
  return new S3ObjectStore({
    bucket: config.s3Bucket,
    prefix: config.s3Prefix,
    endpoint: config.s3Endpoint,
    region: config.s3Region,
    forcePathStyle: config.s3ForcePathStyle,
    ...(dependencies.s3Client !== undefined && { client: dependencies.s3Client }),
  });
}
