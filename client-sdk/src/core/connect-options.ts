/** Options of `connect()`, their defaults, and their validation. */
import { DEFAULT_HEARTBEAT_MS } from '../protocol/limits.js';
import { isFieldTable, type FieldTable } from '../protocol/properties.js';
import { assertFieldTable } from './options.js';
import { resolveReconnectOptions, type ReconnectOptions, type ResolvedReconnectOptions } from './backoff.js';
import { resolveLogger, type Logger } from './logger.js';
import type { MessageDecoder } from './message.js';

/** Version of this SDK, sent in the `version` client property. */
export const SDK_VERSION = '0.1.0';

/** Options of `connect(url, options)`. */
export interface ConnectOptions {
  /** Default 'guest'. */
  username?: string;
  /** Default 'guest'. */
  password?: string;
  /** Virtual host. Default '/'. */
  vhost?: string;
  /**
   * Heartbeat interval the client proposes, in ms; 0 proposes none. The broker settles on
   * the smaller non-zero of both proposals. Default 30000 (DEFAULT_HEARTBEAT_MS).
   */
  heartbeatMs?: number;
  /**
   * How long the socket may take to open and the handshake to complete, in ms; with
   * `reconnect`, also how long restoring topology and channels after a reconnect may take
   * before that attempt is abandoned and another made. Default 10000.
   */
  connectTimeoutMs?: number;
  /** Extra client properties shown by the broker's management API (override the defaults). */
  clientProperties?: FieldTable;
  /**
   * Automatic recovery. `true` (or an options object to tune the backoff and the buffer):
   * after the connection drops (socket lost, heartbeat timeout, broker shutdown with 320
   * CONNECTION_FORCED), the SDK reconnects with exponential backoff and jitter,
   * re-declares what it declared, re-opens its channels and consumers, re-sends unconfirmed
   * publishes and sends those buffered meanwhile (client-sdk/README.md, "Automatic
   * recovery"). Default false: a lost connection closes and emits 'error' and 'close'.
   * The first connect is never retried: `connect()` rejects if it fails.
   */
  reconnect?: boolean | ReconnectOptions;
  /**
   * Most publishes a channel has sent and not yet had confirmed; further publishes wait
   * (unsent, in order) until confirms free room. 0 means no limit. Default 1000. A channel
   * may override it with `createChannel({ maxUnconfirmed })`.
   */
  maxUnconfirmed?: number;
  /**
   * Receives the SDK's diagnostics (reconnect attempts, recovery problems, consumer errors
   * nobody listens to). Any of `debug`/`info`/`warn`/`error` may be left out. Default: silent.
   */
  logger?: Partial<Logger>;
  /**
   * Gives every received message a `decode()` that deserializes it by its schema id
   * (spec/schemas.md §SDK helpers): pass a `SchemaHelpers` of `@switchyard/client/schemas`
   * (any object with its `decode(msg)` will do). Default none: `msg.decode()` rejects,
   * saying how to enable it. A separate entry point, so the SDK does not carry avsc.
   */
  schemas?: MessageDecoder;
}

/** Every tunable of a connection, with its default. */
export const CONNECT_DEFAULTS = {
  username: 'guest',
  password: 'guest',
  vhost: '/',
  heartbeatMs: DEFAULT_HEARTBEAT_MS,
  connectTimeoutMs: 10_000,
  /** How long `conn.close()` waits for closeOk before dropping the socket. */
  closeTimeoutMs: 10_000,
  maxUnconfirmed: 1000,
} as const;

/** ConnectOptions with defaults applied and client properties assembled. @internal */
export interface ResolvedConnectOptions {
  username: string;
  password: string;
  vhost: string;
  heartbeatMs: number;
  connectTimeoutMs: number;
  closeTimeoutMs: number;
  clientProperties: FieldTable;
  /** Recovery settings, or undefined when `reconnect` is off. */
  reconnect: ResolvedReconnectOptions | undefined;
  maxUnconfirmed: number;
  logger: Logger;
  schemas: MessageDecoder | undefined;
}

/** Largest delay setTimeout honours (larger ones fire at once). */
const MAX_TIMER_MS = 0x7fffffff;

function stringOption(value: unknown, name: string, byDefault: string): string {
  if (value === undefined) return byDefault;
  if (typeof value !== 'string') throw new TypeError(`options.${name} must be a string`);
  return value;
}

function integerOption(value: unknown, name: string, byDefault: number, min: number, max: number): number {
  if (value === undefined) return byDefault;
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number`);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`options.${name} must be an integer from ${min} to ${max}`);
  }
  return value;
}

/**
 * Checks a `maxUnconfirmed` value (0 = no limit) and applies the default.
 * @throws TypeError / RangeError `<name> must be ...`
 */
export function maxUnconfirmedOption(value: unknown, name: string, byDefault: number): number {
  if (value === undefined) return byDefault;
  if (typeof value !== 'number') throw new TypeError(`${name} must be a number`);
  if (!Number.isInteger(value) || value < 0)
    throw new RangeError(`${name} must be a non-negative integer (0: no limit)`);
  return value;
}

/** Checks the `schemas` option: an object with a `decode` method (a `SchemaHelpers`). */
function schemasOption(value: unknown): MessageDecoder | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'object' || value === null || typeof (value as MessageDecoder).decode !== 'function')
    throw new TypeError(
      "options.schemas must be a SchemaHelpers of '@switchyard/client/schemas' (an object with decode(msg))",
    );
  return value as MessageDecoder;
}

/**
 * Validates `options` and applies defaults.
 * @throws TypeError / RangeError naming the offending option
 */
export function resolveConnectOptions(options: ConnectOptions | undefined, platform: string): ResolvedConnectOptions {
  const o = options ?? {};
  if (typeof o !== 'object') throw new TypeError('options must be an object');
  if (o.clientProperties !== undefined && !isFieldTable(o.clientProperties)) {
    throw new TypeError('options.clientProperties must be a plain object');
  }
  if (o.clientProperties !== undefined) assertFieldTable(o.clientProperties, 'options.clientProperties');
  return {
    username: stringOption(o.username, 'username', CONNECT_DEFAULTS.username),
    password: stringOption(o.password, 'password', CONNECT_DEFAULTS.password),
    vhost: stringOption(o.vhost, 'vhost', CONNECT_DEFAULTS.vhost),
    heartbeatMs: integerOption(o.heartbeatMs, 'heartbeatMs', CONNECT_DEFAULTS.heartbeatMs, 0, 0xffffffff),
    connectTimeoutMs: integerOption(
      o.connectTimeoutMs,
      'connectTimeoutMs',
      CONNECT_DEFAULTS.connectTimeoutMs,
      1,
      MAX_TIMER_MS,
    ),
    closeTimeoutMs: CONNECT_DEFAULTS.closeTimeoutMs,
    reconnect: resolveReconnectOptions(o.reconnect),
    maxUnconfirmed: maxUnconfirmedOption(o.maxUnconfirmed, 'options.maxUnconfirmed', CONNECT_DEFAULTS.maxUnconfirmed),
    logger: resolveLogger(o.logger),
    schemas: schemasOption(o.schemas),
    clientProperties: {
      product: 'switchyard-client',
      version: SDK_VERSION,
      platform,
      ...o.clientProperties,
    },
  };
}

/**
 * The URL as a string.
 * @throws TypeError `url must be a string or a URL`
 */
export function urlString(url: unknown): string {
  if (typeof url === 'string') return url;
  if (typeof URL !== 'undefined' && url instanceof URL) return url.href;
  throw new TypeError('url must be a string or a URL');
}

/** A connect URL with the credentials it carried (`ws://user:password@host`) taken out. */
export interface ConnectTarget {
  url: string;
  username?: string;
  password?: string;
}

/**
 * Splits the credentials out of a connect URL, as amqplib reads them from
 * `amqp://user:password@host` (percent-decoded), so they are used for the login rather than
 * silently ignored. Refuses an AMQP 0-9-1 URL with a message saying what to use instead.
 * A URL that does not parse is returned as is, for the transport to report.
 * @throws TypeError for an `amqp:` / `amqps:` URL
 */
export function splitUrlCredentials(url: string): ConnectTarget {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  if (scheme === 'amqp' || scheme === 'amqps') {
    throw new TypeError(
      `url ${scheme}://... is an AMQP 0-9-1 URL: Switchyard clients speak WebSocket, e.g. ${scheme === 'amqps' ? 'wss' : 'ws'}://127.0.0.1:5680 (credentials may stay in the URL; give the vhost as options.vhost)`,
    );
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { url };
  }
  if (parsed.username === '' && parsed.password === '') return { url };
  const target: ConnectTarget = {
    url: '',
    username: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
  };
  parsed.username = '';
  parsed.password = '';
  target.url = parsed.href;
  return target;
}
