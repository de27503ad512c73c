import type { Request, Response } from 'express';
import type { Logger } from '../../protocol/logger.js';
import { principalOf } from '../auth/api-key-auth.js';
import { functionNotFound, mayUseFunction } from '../auth/api-keys.js';
import type { FunctionService } from '../functions/function-service.js';
import type { Invoker } from '../functions/invoker.js';
import type { InvocationCaller } from '../functions/invoke-params.js';
import type { ResolvedFunction } from '../functions/resolved-function.js';
import { requireObject, requireString } from './request-params.js';

/** What every OpenAI-compatible handler needs. */
export interface OpenAiContext {
  readonly functions: FunctionService;
  readonly invoker: Invoker;
  readonly log: Logger;
}

/** A request's body, its caller, and its function (404 when unknown or not granted to the key). */
export interface OpenAiRequest {
  readonly arrivalMs: number;
  readonly body: Readonly<Record<string, unknown>>;
  readonly caller: InvocationCaller;
  readonly model: string;
}

/** Reads the body and checks the key may use `model`, before anything else is looked at. */
export function openAiRequest(req: Request, res: Response, check: (body: Readonly<Record<string, unknown>>) => void): OpenAiRequest {
  const arrivalMs = Date.now();
  const body = requireObject(req.body);
  const model = requireString(body, 'model');
  const caller = principalOf(res);
  if (!mayUseFunction(caller, model)) throw functionNotFound(model);
  check(body);
  return { arrivalMs, body, caller, model };
}

export async function resolveFunction(ctx: OpenAiContext, request: OpenAiRequest): Promise<ResolvedFunction> {
  return ctx.functions.resolve(request.model);
}
