import { Router } from 'express';
import type { ApiKeyService, ApiKeyScope } from '../auth/api-keys.js';
import type { ApiKeyRecord } from '../db/repositories/api-key-repository.js';
import { TidepoolError } from '../../protocol/errors.js';
import { requireObject, requireString } from './request-params.js';

/** `POST /v1/keys` (the key is in the answer once), `GET /v1/keys`, `DELETE /v1/keys/:id`; admin only (see auth). */
export function keyRoutes(keys: ApiKeyService): Router {
  const router = Router();
  router.post('/v1/keys', async (req, res) => {
    const body = requireObject(req.body);
    const name = requireString(body, 'name');
    const scope = requireString(body, 'scope') as ApiKeyScope;
    const functions = body.functions === undefined || body.functions === null ? null : (body.functions as string[]);
    const { record, key } = await keys.create({ name, scope, functions, limits: { rpm: body.rpm, tpm: body.tpm, concurrency: body.concurrency } });
    res.status(201).json({ ...keyBody(record), key });
  });
  router.get('/v1/keys', async (_req, res) => {
    res.json({ data: (await keys.list()).map(keyBody) });
  });
  router.delete('/v1/keys/:id', async (req, res) => {
    if (!(await keys.revoke(req.params.id))) throw new TidepoolError('key_not_found', `no active API key ${req.params.id}`, { param: 'id' });
    res.json({ id: req.params.id, revoked: true });
  });
  return router;
}

function keyBody(record: ApiKeyRecord) {
  return {
    id: record.id,
    name: record.name,
    scopes: record.scopes,
    functions: record.functions,
    rpm: record.limits.rpm,
    tpm: record.limits.tpm,
    concurrency: record.limits.concurrency,
    created_at: record.createdAt.toISOString(),
    revoked_at: record.revokedAt?.toISOString() ?? null,
  };
}
