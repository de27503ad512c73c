import type { ErrorRequestHandler, RequestHandler } from 'express';
import { HttpError, errorBody } from './http-error.js';

/** Maps body-parser and other library errors onto HttpError so every failure has one JSON shape. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const e = error as { type?: string; status?: number; message?: string; limit?: number };
  if (e?.type === 'entity.parse.failed') return new HttpError(400, 'invalid_json', `malformed JSON body: ${e.message}`);
  if (e?.type === 'entity.too.large') return new HttpError(413, 'body_too_large', `request body exceeds the ${e.limit}-byte limit (TIDEPOOL_MAX_BODY_BYTES)`);
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) {
    return new HttpError(e.status, 'bad_request', e.message ?? 'bad request');
  }
  return new HttpError(500, 'internal_error', 'internal error');
}

/** The one error middleware: every error leaves as `{error:{message,type,code,param}}`. */
export function errorMiddleware(options: { readonly log?: (error: unknown) => void } = {}): ErrorRequestHandler {
  return (error, _req, res, _next) => {
    const httpError = toHttpError(error);
    if (httpError.status >= 500 && !(error instanceof HttpError)) options.log?.(error);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(httpError.status).set(httpError.headers).json(errorBody(httpError));
  };
}

export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(new HttpError(404, 'route_not_found', `no route for ${req.method} ${req.path}`));
};
