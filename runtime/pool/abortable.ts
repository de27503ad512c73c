import { HostPoolError } from './host-pool-error.js';

/** Lets one waiter stop waiting on a shared promise (a single-flight fetch) without cancelling it for others. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new HostPoolError('cancelled', 'request aborted while its model was fetched'));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new HostPoolError('cancelled', 'request aborted while its model was fetched'));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}
