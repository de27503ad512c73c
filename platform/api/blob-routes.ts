import { Router } from 'express';
import { DIGEST_PATTERN } from '../functions/artifact.js';
import type { BlobReader } from '../functions/model-check.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import { HttpError } from './http-error.js';

/**
 * The object store as blob routes need it. `put` stores `body` under `digest` only when the bytes hash to it
 * (HttpError 400 `digest_mismatch` otherwise) and fails with 413 past `maxBytes`; nothing is kept on failure.
 */
export interface BlobService extends BlobReader {
  put(digest: string, body: AsyncIterable<Buffer>, options?: BlobPutOptions): Promise<void>;
}

export interface BlobPutOptions {
  readonly maxBytes?: number;
  readonly onBytes?: (n: number) => void;
}

export interface BlobRoutesOptions {
  readonly blobs: BlobService;
  readonly maxUploadBytes: number;
  readonly metrics: ControlPlaneMetrics;
}

function digestParam(value: string): string {
  if (!DIGEST_PATTERN.test(value)) throw new HttpError(400, 'invalid_digest', `digest ${value} is not sha256:<64 lowercase hex>`, 'digest');
  return value;
}

/** `HEAD /v1/blobs/:digest` (200 with Content-Length, or 404) and `PUT /v1/blobs/:digest` (streamed, verified). */
export function blobRoutes(options: BlobRoutesOptions): Router {
  const router = Router();
  router.head('/v1/blobs/:digest', async (req, res) => {
    const size = await options.blobs.size(digestParam(req.params.digest));
    if (size === undefined) res.status(404).end();
    else res.status(200).set('Content-Length', String(size)).end();
  });
  router.put('/v1/blobs/:digest', async (req, res) => {
    const digest = digestParam(req.params.digest);
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > options.maxUploadBytes) {
      throw new HttpError(413, 'blob_too_large', `Content-Length ${declared} exceeds the ${options.maxUploadBytes}-byte upload limit`);
    }
    const existing = await options.blobs.size(digest);
    if (existing !== undefined) {
      // Content-addressed: the bytes are already here. Drain the body so the connection can be reused.
      req.resume();
      res.status(200).json({ digest, size: existing, created: false });
      return;
    }
    await options.blobs.put(digest, req, { maxBytes: options.maxUploadBytes, onBytes: (n) => options.metrics.blobBytes.inc(n) });
    res.status(201).json({ digest, size: await options.blobs.size(digest), created: true });
  });
  return router;
}
