import { timingSafeEqual, createHash } from 'node:crypto';
import type { RequestHandler } from 'express';
import { HttpError } from '../api/http-error.js';

/**
 * Bearer-token check for `/v1/*` when an API key is configured (`TIDEPOOL_API_KEY`); local mode runs open
 * on 127.0.0.1. Keys are compared as hashes in constant time so response timing leaks nothing about them.
 */
export function apiKeyAuth(options: { readonly apiKey: string | undefined }): RequestHandler {
  if (!options.apiKey) return (_req, _res, next) => next();
  const expected = createHash('sha256').update(options.apiKey).digest();
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    const given = createHash('sha256').update(token).digest();
    if (!token || !timingSafeEqual(given, expected)) {
      next(new HttpError(401, 'invalid_api_key', 'missing or invalid API key (send Authorization: Bearer <key>)'));
      return;
    }
    next();
  };
}
