import type { TidepoolConfig } from '../platform/config.js';
import { createLogger, type Logger } from '../protocol/logger.js';

/**
 * The logger of a long-running process, at `TIDEPOOL_LOG_LEVEL`, on standard error: JSON lines for the
 * cluster processes (`serve`, `node`: a log pipeline reads them), readable lines for `up` (a person does).
 */
export function processLogger(config: TidepoolConfig, mode: 'local' | 'cluster'): Logger {
  return createLogger({ level: config.logLevel, format: mode === 'cluster' ? 'json' : 'text' });
}

/** Progress lines of a command (`synthesizing ...`, `deployed example ...`): output for the person at the terminal. */
export function printProgress(line: string): void {
  process.stderr.write(`${line}\n`);
}
