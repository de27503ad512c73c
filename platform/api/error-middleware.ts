import type { ErrorRequestHandler, RequestHandler } from 'express';
import { TidepoolError } from '../../protocol/errors.js';
import { errorBody, errorHeaders, httpStatus } from './http-error.js';
import type { Logger } from '../../protocol/logger.js';

/** Maps body-parser and other library errors onto a coded error so every failure has one JSON shape. */
export function toCodedError(error: unknown): TidepoolError {
  if (error instanceof TidepoolError) return error;
  const e = error as { type?: string; status?: number; message?: string; limit?: number };
  if (e?.type === 'entity.parse.failed') return new TidepoolError('invalid_json', `malformed JSON body: ${e.message}`);
  if (e?.type === 'entity.too.large') return new TidepoolError('body_too_large', `request body exceeds the ${e.limit}-byte limit (TIDEPOOL_MAX_BODY_BYTES)`);
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new TidepoolError('bad_request', e.message ?? 'bad request');
  }
  return new TidepoolError('internal_error', 'internal error', { cause: error });
}

/** The one error middleware: every error leaves as `{error:{message,type,code,param}}`, its status from the code. */
export function errorMiddleware(options: { readonly log?: Logger } = {}): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const coded = toCodedError(error);
    const status = httpStatus(coded.code);
    if (status >= 500 && !(error instanceof TidepoolError)) {
      options.log?.error(`request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(status).set(errorHeaders(coded)).json(errorBody(coded));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new TidepoolError('route_not_found', `no route for ${req.method} ${req.path}`));
};
