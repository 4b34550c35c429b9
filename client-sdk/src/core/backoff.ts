/**
 * Automatic recovery settings (`connect(url, { reconnect })`) and the reconnect delay:
 * exponential backoff with jitter, so that many clients dropped by the same broker restart
 * do not all knock on its door in the same millisecond.
 */

/** Options of automatic recovery; `reconnect: true` means all defaults. */
export interface ReconnectOptions {
  /** Delay before the first reconnect attempt, in ms (before jitter). Default 100. */
  initialDelayMs?: number;
  /** Largest delay between attempts, in ms (before jitter). Default 30000. */
  maxDelayMs?: number;
  /** Factor the delay grows by after each failed attempt. Default 2. */
  multiplier?: number;
  /**
   * Fraction of each delay that is random, from 0 (none) to 1: the delay actually waited is
   * uniformly distributed in `[delay * (1 - jitter), delay]`. Default 0.5.
   */
  jitter?: number;
  /**
   * Connection attempts after a drop before giving up ('recovery-failed', then 'close').
   * Default Infinity: keep trying.
   */
  maxAttempts?: number;
  /**
   * Most publishes held (across the connection's channels) while the connection is down,
   * waiting to be sent after recovery; a publish beyond it rejects at once with
   * PublishBufferFullError. Default 10000.
   */
  maxBufferedPublishes?: number;
  /** Most bytes of message bodies held while the connection is down. Default 64 MiB. */
  maxBufferedBytes?: number;
}

/** ReconnectOptions with defaults applied. @internal */
export type ResolvedReconnectOptions = Required<ReconnectOptions>;

/** Defaults of automatic recovery. */
export const RECONNECT_DEFAULTS: ResolvedReconnectOptions = {
  initialDelayMs: 100,
  maxDelayMs: 30_000,
  multiplier: 2,
  jitter: 0.5,
  maxAttempts: Infinity,
  maxBufferedPublishes: 10_000,
  maxBufferedBytes: 64 * 1024 * 1024,
};

function numberOption(
  value: unknown,
  name: string,
  byDefault: number,
  min: number,
  max: number,
  integer: boolean,
): number {
  if (value === undefined) return byDefault;
  if (typeof value !== 'number' || Number.isNaN(value))
    throw new TypeError(`options.reconnect.${name} must be a number`);
  if (value < min || value > max || (integer && value !== Infinity && !Number.isInteger(value))) {
    const what = integer ? 'an integer' : 'a number';
    throw new RangeError(`options.reconnect.${name} must be ${what} from ${min} to ${max}`);
  }
  return value;
}

/**
 * Validates the `reconnect` option: undefined/false → undefined (no recovery), true → the
 * defaults, an object → the defaults overlaid with it.
 * @throws TypeError / RangeError naming the offending option
 */
export function resolveReconnectOptions(value: unknown): ResolvedReconnectOptions | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { ...RECONNECT_DEFAULTS };
  if (typeof value !== 'object' || value === null)
    throw new TypeError('options.reconnect must be a boolean or an object');
  const o = value as ReconnectOptions;
  const d = RECONNECT_DEFAULTS;
  const resolved: ResolvedReconnectOptions = {
    initialDelayMs: numberOption(o.initialDelayMs, 'initialDelayMs', d.initialDelayMs, 0, 0x7fffffff, true),
    maxDelayMs: numberOption(o.maxDelayMs, 'maxDelayMs', d.maxDelayMs, 0, 0x7fffffff, true),
    multiplier: numberOption(o.multiplier, 'multiplier', d.multiplier, 1, 1000, false),
    jitter: numberOption(o.jitter, 'jitter', d.jitter, 0, 1, false),
    maxAttempts: numberOption(o.maxAttempts, 'maxAttempts', d.maxAttempts, 1, Infinity, true),
    maxBufferedPublishes: numberOption(
      o.maxBufferedPublishes,
      'maxBufferedPublishes',
      d.maxBufferedPublishes,
      0,
      Infinity,
      true,
    ),
    maxBufferedBytes: numberOption(o.maxBufferedBytes, 'maxBufferedBytes', d.maxBufferedBytes, 0, Infinity, true),
  };
  if (resolved.maxDelayMs < resolved.initialDelayMs) {
    throw new RangeError('options.reconnect.maxDelayMs must not be smaller than initialDelayMs');
  }
  return resolved;
}

/**
 * Delay before reconnect attempt `attempt` (1 for the first): `initialDelayMs *
 * multiplier^(attempt-1)`, capped at `maxDelayMs`, minus up to `jitter` of it at random.
 */
export function backoffDelay(attempt: number, o: ResolvedReconnectOptions, random: () => number = Math.random): number {
  const exponent = Math.max(0, attempt - 1);
  const base = Math.min(o.maxDelayMs, o.initialDelayMs * Math.pow(o.multiplier, exponent));
  return Math.round(base * (1 - o.jitter * random()));
}
