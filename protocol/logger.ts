/**
 * The one logger every process part writes to: levels, a message, and fields that say what it concerns
 * (`device`, `function`, `node`). Cluster processes (`tidepool serve`, `tidepool node`) write JSON lines for
 * a log pipeline; local mode (`tidepool up`) writes readable lines. Below `TIDEPOOL_LOG_LEVEL` nothing is
 * written, and nothing is formatted either.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger whose lines also carry `fields` (a component, a device). */
  child(fields: LogFields): Logger;
}

export interface LoggerOptions {
  /** The lowest level written; `silent` writes nothing. */
  readonly level: LogLevel | 'silent';
  /** `json`: one JSON object per line (`time`, `level`, `msg`, fields); `text`: `HH:MM:SS.mmm level msg k=v`. */
  readonly format: 'json' | 'text';
  /** Where lines go; standard error by default. */
  readonly write?: (line: string) => void;
  readonly now?: () => Date;
}

const RANK: Readonly<Record<LogLevel | 'silent', number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export function createLogger(options: LoggerOptions, fields: LogFields = {}): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  const now = options.now ?? (() => new Date());
  const threshold = RANK[options.level];
  const emit = (level: LogLevel, message: string, extra: LogFields | undefined): void => {
    if (RANK[level] < threshold) return;
    const all = extra ? { ...fields, ...extra } : fields;
    write(options.format === 'json' ? jsonLine(now(), level, message, all) : textLine(now(), level, message, all));
  };
  return {
    debug: (message, extra) => emit('debug', message, extra),
    info: (message, extra) => emit('info', message, extra),
    warn: (message, extra) => emit('warn', message, extra),
    error: (message, extra) => emit('error', message, extra),
    child: (more) => createLogger(options, { ...fields, ...more }),
  };
}

/** Writes nothing: the default where a caller passes no logger. */
export const silentLogger: Logger = createLogger({ level: 'silent', format: 'text', write: () => {} });

function jsonLine(time: Date, level: LogLevel, message: string, fields: LogFields): string {
  return JSON.stringify({ time: time.toISOString(), level, msg: message, ...fields });
}

function textLine(time: Date, level: LogLevel, message: string, fields: LogFields): string {
  const clock = time.toISOString().slice(11, 23);
  const rest = Object.entries(fields)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => ` ${key}=${typeof value === 'string' && /\s/.test(value) ? JSON.stringify(value) : String(value)}`)
    .join('');
  return `${clock} ${level.padEnd(5)} ${message}${rest}`;
}
