/**
 * The SDK's optional logger: any object with `debug`/`info`/`warn`/`error(message, meta)`
 * (console, winston, pino ...). The SDK never depends on a logging library, so the browser
 * bundle stays small; without a logger it is silent.
 */

/** What the SDK logs to. Every method receives a message and, optionally, structured details. */
export interface Logger {
  debug(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  error(message: string, meta?: Record<string, unknown>): void;
}

const noop = (): void => undefined;

/**
 * A complete Logger from a partial one (missing levels are no-ops), or a silent one.
 * @throws TypeError `options.logger must be an object`
 */
export function resolveLogger(logger: unknown): Logger {
  if (logger === undefined || logger === null) return { debug: noop, info: noop, warn: noop, error: noop };
  if (typeof logger !== 'object' && typeof logger !== 'function')
    throw new TypeError('options.logger must be an object');
  const l = logger as Partial<Logger>;
  const level = (name: keyof Logger): Logger[keyof Logger] => {
    const fn = l[name];
    return typeof fn === 'function' ? (message, meta) => fn.call(l, message, meta) : noop;
  };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}
