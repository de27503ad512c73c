import type { Logger } from '../../protocol/logger.js';

/** A logger that keeps each message (any level, fields dropped) in `messages`, for tests that check what was said. */
export function messageLogger(messages: unknown[]): Logger {
  const keep = (message: string): void => {
    messages.push(message);
  };
  const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep, child: () => logger };
  return logger;
}
