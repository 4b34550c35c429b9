import { DEFAULT_HEARTBEAT_MS, DEFAULT_MAX_MESSAGE_BYTES, FRAME_OVERHEAD_BYTES } from '@switchyard/client/protocol';
import type { Logger, LogLevel } from './logging.js';
import type { LoginThrottleOptions } from './auth/login-throttle.js';
import type { Clock } from './queues/clock.js';
import type { AccessStore, QueueStore } from './store/store.js';
import type { ClusterOptions } from './cluster/jetstream-store.js';

/** Options for {@link Broker.start}. Every tunable has its default in {@link DEFAULTS}. */
export interface BrokerOptions {
  /** Client WebSocket port; 0 picks a free one (read it back from `broker.port`). Default 5680. */
  port?: number;
  /** Interface to listen on. Default '127.0.0.1'. */
  host?: string;
  /** Management HTTP port; 0 picks a free one; `false` disables it. Default 15680. */
  managementPort?: number | false;
  /**
   * AMQP 0-9-1 port on `host` (spec/amqp.md); 0 picks a free one (`broker.amqpUrl`); `false`
   * turns the AMQP listener off. Default 5672.
   */
  amqpPort?: number | false;
  /** AMQP 0-9-1 over TLS (amqps://) with the `tls` files; off unless given. */
  amqpsPort?: number;
  /** Directory for the LMDB environment. Default './data'. */
  dataDir?: string;
  /** Skip fsync on commit (tests only: a crash may lose confirmed messages). Default false. */
  noSync?: boolean;
  /**
   * Read an existing store whole in a child process before opening it, so a damaged page
   * stops the start with one line instead of crashing the broker. Default true.
   */
  verifyStore?: boolean;
  /** Heartbeat interval the broker proposes, ms; 0 disables. Default 30,000. */
  heartbeatMs?: number;
  /** Largest message body accepted, bytes. Default 16 MiB. */
  maxMessageBytes?: number;
  /**
   * Time a new socket has to complete its HTTP upgrade and its `hello`, ms; also the time an
   * HTTP request on either port has to send its headers. Default 10,000.
   */
  handshakeTimeoutMs?: number;
  /** Pause deliveries to a connection whose socket holds more than this many unsent bytes. Default 4 MiB. */
  socketHighWaterBytes?: number;
  /**
   * A delivery unacked for longer closes its channel with 406 and requeues its messages
   * (RabbitMQ's `consumer_timeout`); queues override it with `x-consumer-timeout`; 0 disables.
   * Default 30 minutes.
   */
  consumerTimeoutMs?: number;
  /** How often consumer timeouts are checked, ms. Default 1,000. */
  consumerTimeoutCheckMs?: number;
  /** Most logged-in client connections at once; more are refused with 530 NOT_ALLOWED. Default 4,096. */
  maxConnections?: number;
  /**
   * Most sockets on the client port that have not logged in yet (connecting, upgrading,
   * authenticating); more are closed at once. Each gets `handshakeTimeoutMs` to send hello.
   * Default 1,024.
   */
  maxPendingConnections?: number;
  /** Most open channels per connection (AMQP channel_max); more is 530 NOT_ALLOWED. Default 2,047. */
  maxChannelsPerConnection?: number;
  /** Most consumers per channel; more is 406 PRECONDITION_FAILED. Default 10,000. */
  maxConsumersPerChannel?: number;
  /** Most queues per vhost; more is 406 PRECONDITION_FAILED. Default 100,000. */
  maxQueues?: number;
  /**
   * Origins allowed to open a WebSocket (browsers send `Origin`; other clients do not and are
   * always allowed). `['*']` allows any. Default: loopback origins only
   * (http(s)://localhost, 127.0.0.1, [::1] on any port), so a web page elsewhere cannot use a
   * broker on the user's machine or network.
   */
  allowedOrigins?: string[];
  /**
   * TLS for both listeners (wss:// and https://): PEM file paths. Default: plain ws/http.
   */
  tls?: { certFile: string; keyFile: string; caFile?: string };
  /**
   * Memory alarm: when the broker's RSS exceeds this fraction of total memory (0-1) or this
   * many bytes (> 1), publishers are blocked until it falls below. Default 0.4 (RabbitMQ's
   * vm_memory_high_watermark).
   */
  memoryHighWatermark?: number;
  /**
   * `/metrics` with one series per queue (RabbitMQ's `prometheus.return_per_object_metrics`).
   * Default false: `/metrics` aggregates queue families over all queues, and
   * `/metrics/per-object` has the per-queue series. spec/management.md §Metrics.
   */
  metricsPerObject?: boolean;
  /** Disk alarm: publishers are blocked while the data directory's file system has less free. Default 50 MB. */
  diskFreeLimitBytes?: number;
  /** How often alarms are checked, ms. Default 1,000. */
  alarmCheckMs?: number;
  /**
   * Secret for HMAC-signed login tokens (browsers): clients send a token from `createToken`
   * as their password. Default: tokens disabled.
   */
  tokenSecret?: string;
  /** Let the default `guest` user connect from any address, not only loopback. Default false. */
  guestAnywhere?: boolean;
  /**
   * This broker's name in federation: the `cluster_name` server property, written in
   * `x-received-from` to stop loops (spec/links.md). Default `{hostname}-{hash of the data
   * directory}`: unique per broker on a host, the same across restarts.
   */
  clusterName?: string;
  /**
   * Failed-login throttle per peer address, for the client port and the management API:
   * after `maxFailures` (10) failures within `windowMs` (60 s) the peer is refused for
   * `blockMs` (60 s). `false` disables it. spec/security.md §Users and authentication.
   */
  loginThrottle?: Partial<LoginThrottleOptions> | false;
  /** Log level when the broker creates its own logger. Default 'info'; 'silent' logs nothing. */
  logLevel?: LogLevel;
  /** Log format when the broker creates its own logger. Default 'json'. */
  logFormat?: 'json' | 'pretty';
  /** A winston logger to use instead of creating one. */
  logger?: Logger;
  /** Time source for TTLs, delays and expiry (tests inject a fake one). Default: the system clock. */
  clock?: Clock;
  /**
   * A store to use instead of LMDB in `dataDir` (another engine, or a test double of a real
   * store). It keeps queues and messages (QueueStore) and users, vhosts and permissions
   * (AccessStore) alike; the broker closes it on `close()`.
   */
  store?: BrokerStore;
  /**
   * A definitions file (JSON: exchanges, queues, bindings; spec/management.md §Definitions)
   * imported at start, before clients are accepted. Idempotent. Default: none.
   */
  definitions?: string;
  /**
   * Run as one node of a cluster on NATS JetStream instead of LMDB in `dataDir`
   * (spec/cluster.md): `servers` are the JetStream servers' URLs, `nodeName` names this node.
   */
  cluster?: ClusterOptions;
}

export const DEFAULTS = {
  port: 5680,
  host: '127.0.0.1',
  managementPort: 15680 as number | false,
  amqpPort: 5672 as number | false,
  dataDir: './data',
  noSync: false,
  verifyStore: true,
  heartbeatMs: DEFAULT_HEARTBEAT_MS,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
  handshakeTimeoutMs: 10_000,
  socketHighWaterBytes: 4 * 1024 * 1024,
  consumerTimeoutMs: 30 * 60 * 1000,
  consumerTimeoutCheckMs: 1_000,
  maxConnections: 4096,
  maxPendingConnections: 1024,
  maxChannelsPerConnection: 2047,
  maxConsumersPerChannel: 10_000,
  maxQueues: 100_000,
  memoryHighWatermark: 0.4,
  diskFreeLimitBytes: 50_000_000,
  alarmCheckMs: 1_000,
  guestAnywhere: false,
  metricsPerObject: false,
  logLevel: 'info' as LogLevel,
  logFormat: 'json' as 'json' | 'pretty',
};

/** What the `store` option must implement: queues and messages, and access data. */
export type BrokerStore = QueueStore & AccessStore;

export type ResolvedOptions = typeof DEFAULTS & {
  logger?: Logger;
  store?: BrokerStore;
  clock?: Clock;
  definitions?: string;
  cluster?: ClusterOptions;
  allowedOrigins?: string[];
  tls?: { certFile: string; keyFile: string; caFile?: string };
  amqpsPort?: number;
  tokenSecret?: string;
  clusterName?: string;
  loginThrottle?: Partial<LoginThrottleOptions> | false;
  maxFrameBytes: number;
};

function checkPort(name: string, v: unknown): void {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) > 65535) {
    throw new RangeError(
      `Invalid option "${name}": expected an integer port from 0 to 65535, got ${JSON.stringify(v)}`,
    );
  }
}

function checkNonNegativeInt(name: string, v: unknown): void {
  if (!Number.isSafeInteger(v) || (v as number) < 0) {
    throw new RangeError(`Invalid option "${name}": expected a non-negative integer, got ${JSON.stringify(v)}`);
  }
}

const KNOWN = new Set([
  ...Object.keys(DEFAULTS),
  'logger',
  'store',
  'clock',
  'definitions',
  'cluster',
  'allowedOrigins',
  'tls',
  'amqpsPort',
  'tokenSecret',
  'clusterName',
  'loginThrottle',
]);

/** Merges options over DEFAULTS and validates them; throws TypeError/RangeError naming the bad option. */
export function resolveOptions(options: BrokerOptions = {}): ResolvedOptions {
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) throw new TypeError(`Unknown option "${key}"`);
  }
  const o = { ...DEFAULTS, ...stripUndefined(options) } as ResolvedOptions;
  checkPort('port', o.port);
  if (o.managementPort !== false) checkPort('managementPort', o.managementPort);
  if (o.amqpPort !== false) checkPort('amqpPort', o.amqpPort);
  if (o.amqpsPort !== undefined) {
    checkPort('amqpsPort', o.amqpsPort);
    if (o.tls === undefined)
      throw new TypeError('Invalid option "amqpsPort": amqps needs the "tls" option (certFile, keyFile)');
  }
  if (typeof o.host !== 'string' || o.host === '')
    throw new TypeError(`Invalid option "host": expected a hostname or IP address`);
  if (typeof o.dataDir !== 'string' || o.dataDir === '')
    throw new TypeError(`Invalid option "dataDir": expected a directory path`);
  if (o.cluster !== undefined) checkCluster(o.cluster);
  if (o.definitions !== undefined && (typeof o.definitions !== 'string' || o.definitions === '')) {
    throw new TypeError(`Invalid option "definitions": expected a file path`);
  }
  checkNonNegativeInt('heartbeatMs', o.heartbeatMs);
  checkNonNegativeInt('handshakeTimeoutMs', o.handshakeTimeoutMs);
  checkNonNegativeInt('socketHighWaterBytes', o.socketHighWaterBytes);
  checkNonNegativeInt('maxMessageBytes', o.maxMessageBytes);
  checkNonNegativeInt('consumerTimeoutMs', o.consumerTimeoutMs);
  checkNonNegativeInt('consumerTimeoutCheckMs', o.consumerTimeoutCheckMs);
  if (o.consumerTimeoutCheckMs < 10) {
    throw new RangeError(
      `Invalid option "consumerTimeoutCheckMs": expected at least 10 ms, got ${o.consumerTimeoutCheckMs}`,
    );
  }
  for (const k of [
    'maxConnections',
    'maxPendingConnections',
    'maxChannelsPerConnection',
    'maxConsumersPerChannel',
    'maxQueues',
    'diskFreeLimitBytes',
    'alarmCheckMs',
  ] as const) {
    checkNonNegativeInt(k, o[k]);
  }
  if (o.maxChannelsPerConnection > 65535) {
    throw new RangeError(
      `Invalid option "maxChannelsPerConnection": expected at most 65535, got ${o.maxChannelsPerConnection}`,
    );
  }
  if (typeof o.memoryHighWatermark !== 'number' || !(o.memoryHighWatermark > 0)) {
    throw new RangeError(
      `Invalid option "memoryHighWatermark": expected a fraction of memory (0-1] or a number of bytes, got ${JSON.stringify(o.memoryHighWatermark)}`,
    );
  }
  if (o.alarmCheckMs < 10)
    throw new RangeError(`Invalid option "alarmCheckMs": expected at least 10 ms, got ${o.alarmCheckMs}`);
  if (
    o.allowedOrigins !== undefined &&
    (!Array.isArray(o.allowedOrigins) || !o.allowedOrigins.every((x) => typeof x === 'string'))
  ) {
    throw new TypeError(
      `Invalid option "allowedOrigins": expected a list of origins such as "https://app.example.com", or ["*"]`,
    );
  }
  if (o.tokenSecret !== undefined && (typeof o.tokenSecret !== 'string' || o.tokenSecret.length < 16)) {
    throw new RangeError(`Invalid option "tokenSecret": expected a string of at least 16 characters`);
  }
  if (typeof o.verifyStore !== 'boolean') throw new TypeError(`Invalid option "verifyStore": expected true or false`);
  if (o.clusterName !== undefined && (typeof o.clusterName !== 'string' || !/^[\w.:@-]{1,255}$/.test(o.clusterName)))
    throw new TypeError('Invalid option "clusterName": 1-255 letters, digits, ".", ":", "@", "_" or "-"');
  if (typeof o.guestAnywhere !== 'boolean')
    throw new TypeError(`Invalid option "guestAnywhere": expected true or false`);
  if (typeof o.metricsPerObject !== 'boolean')
    throw new TypeError(`Invalid option "metricsPerObject": expected true or false`);
  if (o.loginThrottle !== undefined && o.loginThrottle !== false) {
    if (typeof o.loginThrottle !== 'object' || o.loginThrottle === null)
      throw new TypeError(`Invalid option "loginThrottle": expected false or { maxFailures, windowMs, blockMs }`);
    for (const [k, v] of Object.entries(o.loginThrottle)) {
      if (!['maxFailures', 'windowMs', 'blockMs', 'maxPeers'].includes(k))
        throw new TypeError(`Invalid option "loginThrottle.${k}": expected maxFailures, windowMs, blockMs or maxPeers`);
      if (!Number.isSafeInteger(v) || v < 1)
        throw new RangeError(
          `Invalid option "loginThrottle.${k}": expected a positive integer, got ${JSON.stringify(v)}`,
        );
    }
  }
  if (
    o.tls !== undefined &&
    (typeof o.tls !== 'object' || typeof o.tls.certFile !== 'string' || typeof o.tls.keyFile !== 'string')
  ) {
    throw new TypeError(`Invalid option "tls": expected { certFile, keyFile, caFile? } with PEM file paths`);
  }
  if (o.maxMessageBytes < 1 || o.maxMessageBytes > 512 * 1024 * 1024) {
    throw new RangeError(`Invalid option "maxMessageBytes": expected 1 to 536870912 bytes, got ${o.maxMessageBytes}`);
  }
  if (!['silent', 'error', 'warn', 'info', 'debug'].includes(o.logLevel)) {
    throw new RangeError(
      `Invalid option "logLevel": expected silent, error, warn, info or debug, got ${JSON.stringify(o.logLevel)}`,
    );
  }
  if (o.logFormat !== 'json' && o.logFormat !== 'pretty') {
    throw new RangeError(`Invalid option "logFormat": expected json or pretty, got ${JSON.stringify(o.logFormat)}`);
  }
  o.maxFrameBytes = o.maxMessageBytes + FRAME_OVERHEAD_BYTES;
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkCluster(c: unknown): void {
  const o = c as Partial<ClusterOptions> | null;
  if (
    typeof o !== 'object' ||
    o === null ||
    !Array.isArray(o.servers) ||
    o.servers.length === 0 ||
    !o.servers.every((s) => typeof s === 'string' && /^(nats|tls):\/\/[^\s,]+$/.test(s))
  )
    throw new TypeError(
      'Invalid option "cluster": expected { servers: ["nats://host:4222", ...] } with at least one nats:// URL',
    );
  if (o.nodeName !== undefined && (typeof o.nodeName !== 'string' || !/^[\w.-]{1,64}$/.test(o.nodeName)))
    throw new TypeError('Invalid option "cluster.nodeName": 1-64 letters, digits, ".", "_" or "-"');
  if (o.leaseTtlMs !== undefined && (!Number.isInteger(o.leaseTtlMs) || o.leaseTtlMs < 1_000 || o.leaseTtlMs > 600_000))
    throw new TypeError('Invalid option "cluster.leaseTtlMs": a whole number of ms from 1000 to 600000');
}
