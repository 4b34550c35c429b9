import winston from 'winston';
import { clipFormat } from './log-clip.js';

/** Logger used across the broker: winston, structured. Components use `logger.child({ component })`. */
export type Logger = winston.Logger;

/** Levels, most severe first; `silent` writes nothing (for embedding a broker in an app or tests). */
export const LOG_LEVELS = ['silent', 'error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LoggerOptions {
  /** Default 'info'; 'silent' is the same as `silent: true`. */
  level?: LogLevel;
  /** 'json' (one JSON object per line, the default) or 'pretty' (human-readable). */
  format?: 'json' | 'pretty';
  /** Write nothing: tests. */
  silent?: boolean;
}

/** Creates the broker's one logger, writing to stdout. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format =
    options.format === 'pretty'
      ? winston.format.combine(
          clipFormat(),
          winston.format.timestamp(),
          winston.format.printf(({ timestamp, level, message, component, ...rest }) => {
            const extra = Object.keys(rest).length > 0 ? ' ' + JSON.stringify(rest) : '';
            return `${String(timestamp)} ${level.padEnd(5)} [${typeof component === 'string' ? component : 'broker'}] ${String(message)}${extra}`;
          }),
        )
      : winston.format.combine(clipFormat(), winston.format.timestamp(), winston.format.json());
  // winston has no 'silent' level: it is its `silent` switch (with a real level underneath).
  const silent = options.silent === true || options.level === 'silent';
  return winston.createLogger({
    level: options.level === undefined || options.level === 'silent' ? 'info' : options.level,
    silent,
    format,
    transports: [new winston.transports.Console({ stderrLevels: [] })],
  });
}

/** Log fields for an unexpected error: its message and stack (the stack says where). */
export function errorFields(err: unknown): { error: string; stack?: string } {
  if (err instanceof Error)
    return err.stack === undefined ? { error: err.message } : { error: err.message, stack: err.stack };
  return { error: String(err) };
}
