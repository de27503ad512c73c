import type { RequestHandler, Response } from 'express';
import { TidepoolError } from '../../protocol/errors.js';
import { OPEN_PRINCIPAL, type ApiKeyService, type Principal } from './api-keys.js';

/**
 * Routes an `invoke` key may use (method and full path); every other route behind the key check needs
 * `admin`, so a route added later is admin-only until it is listed here.
 */
const INVOKE_ROUTES: readonly (readonly [string, RegExp])[] = [
  ['GET', /^\/v1\/models(\/[^/]+)?\/?$/],
  ['POST', /^\/v1\/((chat\/)?completions|responses|embeddings)\/?$/],
  ['POST', /^\/v1\/functions\/[^/]+\/invoke\/?$/],
  ['GET', /^\/v1\/functions(\/[^/]+)?\/?$/],
  ['POST', /^\/(tokenize|detokenize)\/?$/],
];

/**
 * Bearer-key check for `/v1/*` (mounted at `/v1`), and for `/metrics`, which no invoke route matches, so it
 * takes an admin key. With no key ever created and no `TIDEPOOL_API_KEY`, the
 * API runs open (the control plane only listens on loopback then) and ignores any bearer it is sent; otherwise a missing, unknown or revoked key
 * gets 401 and a key without the route's scope 403. The caller lands in `res.locals.principal`.
 */
export function apiKeyAuth(keys: ApiKeyService): RequestHandler {
  return async (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const token = /^bearer /i.test(header) ? header.slice(7).trim() : '';
    let principal: Principal;
    if (!token) {
      if (!(await keys.isOpen())) throw new TidepoolError('invalid_api_key', 'missing API key (send Authorization: Bearer <key>)');
      principal = OPEN_PRINCIPAL;
    } else {
      const result = await keys.authenticate(token);
      // Running open, a placeholder key (OpenAI clients insist on sending one) is not an error.
      if (!result.ok && result.reason !== 'revoked' && (await keys.isOpen())) {
        res.locals.principal = OPEN_PRINCIPAL;
        next();
        return;
      }
      if (!result.ok) {
        throw new TidepoolError('invalid_api_key', result.reason === 'revoked' ? 'API key revoked' : 'invalid API key');
      }
      principal = result.principal;
    }
    const fullPath = `${req.baseUrl}${req.path}`.replace(/\/+$/, '') || '/';
    if (
      !principal.admin &&
      !INVOKE_ROUTES.some(([method, path]) => (req.method === method || (method === 'GET' && req.method === 'HEAD')) && path.test(fullPath))
    ) {
      throw new TidepoolError('insufficient_scope', `this API key has the invoke scope; ${req.method} ${req.baseUrl}${req.path} needs admin`);
    }
    res.locals.principal = principal;
    next();
  };
}

/** The authenticated caller; open (admin) when the app runs without the key check. */
export function principalOf(res: Response): Principal {
  return (res.locals.principal as Principal | undefined) ?? OPEN_PRINCIPAL;
}
