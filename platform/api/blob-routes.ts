import express, { Router } from 'express';
import { DIGEST_PATTERN } from '../functions/artifact.js';
import type { BlobCollector } from '../functions/blob-gc.js';
import type { BlobService } from '../functions/blob-service.js';
import type { ControlPlaneMetrics } from '../metrics.js';
import { gcReportBody, parseGcRequest } from './blob-gc-request.js';
import { TidepoolError } from '../../protocol/errors.js';

export interface BlobRoutesOptions {
  readonly blobs: BlobService;
  readonly maxUploadBytes: number;
  readonly metrics: ControlPlaneMetrics;
  /** Deletes blobs no function version references (`POST /v1/blobs/gc`); absent, the route is not served. */
  readonly gc?: BlobCollector;
}

function digestParam(value: string): string {
  if (!DIGEST_PATTERN.test(value)) throw new TidepoolError('invalid_digest', `digest ${value} is not sha256:<64 lowercase hex>`, { param: 'digest' });
  return value;
}

/**
 * `HEAD /v1/blobs/:digest` (200 with Content-Length, or 404; the stored bytes are not re-read),
 * `PUT /v1/blobs/:digest` (streamed, verified; 201 when new, 200 when it replaced a stored copy) and
 * `POST /v1/blobs/gc` (admin, like every route but invocations: deletes unreferenced blobs, see `blob-gc.ts`).
 */
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
      throw new TidepoolError('blob_too_large', `Content-Length ${declared} exceeds the ${options.maxUploadBytes}-byte upload limit`);
    }
    // Even when the digest is stored already, the upload is verified and replaces it: the stored copy may be
    // corrupt (the host pool reports `blob_corrupt`), and a verified re-upload is how it gets repaired.
    // Clients that only want missing blobs uploaded ask HEAD first (`tidepool deploy` does).
    const existed = (await options.blobs.size(digest)) !== undefined;
    await options.blobs.put(digest, req, { maxBytes: options.maxUploadBytes, onBytes: (n) => options.metrics.blobBytes.inc(n) });
    res.status(existed ? 200 : 201).json({ digest, size: await options.blobs.size(digest), created: !existed });
  });
  const gc = options.gc;
  if (gc) {
    router.post('/v1/blobs/gc', express.json({ limit: 64 << 10, type: () => true }), async (req, res) => {
      res.json(gcReportBody(await gc(parseGcRequest(req.body))));
    });
  }
  return router;
}
