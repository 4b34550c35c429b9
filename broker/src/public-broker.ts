import { EventEmitter } from 'node:events';
import { BrokerRuntime } from './broker.js';
import type { BrokerOptions } from './config.js';
import { errorFields, type Logger } from './logging.js';
import type { ConnectionInfo } from './server/services.js';

/** A client connection that logged in, or that closed after logging in. */
export interface BrokerConnectionEvent {
  /** The connection id (also in the management API and in logs). */
  id: string;
  user: string;
  vhost: string;
  /** The peer's address. */
  remoteAddress: string;
  /** `ws` (our WebSocket protocol, the SDK) or `amqp` (AMQP 0-9-1, spec/amqp.md). */
  protocol: 'ws' | 'amqp';
}

/** The resource alarms after a change: while either is raised, publishers are blocked. */
export interface BrokerAlarmEvent {
  memory: boolean;
  disk: boolean;
}

/** The events a `Broker` emits, with their arguments. */
export interface BrokerEvents {
  /** A client logged in (its `helloOk` is on the way). */
  connection: [BrokerConnectionEvent];
  /** A logged-in client's connection closed, for any reason. */
  disconnection: [BrokerConnectionEvent];
  /** The memory or disk alarm was raised or cleared (spec/security.md §Resource alarms and flow control). */
  alarm: [BrokerAlarmEvent];
}

const runtimes = new WeakMap<Broker, BrokerRuntime>();

/**
 * An embeddable broker: the client WebSocket listener, the management HTTP listener,
 * the vhosts and the store behind them.
 *
 * ```ts
 * const broker = await Broker.start({ port: 0, dataDir, managementPort: 0 });
 * broker.url; // 'ws://127.0.0.1:PORT'
 * broker.on('connection', (c) => console.log(`${c.user} connected from ${c.remoteAddress}`));
 * await broker.close();
 * ```
 *
 * Events (`on`, `once`, `off`): `connection`, `disconnection`, `alarm` (see BrokerEvents).
 * A listener that throws is logged and does not disturb the broker.
 */
export class Broker extends EventEmitter<BrokerEvents> {
  private constructor() {
    super();
  }

  /**
   * Validates options, opens the store (recovering durable queues and messages) and starts
   * listening. Rejects with a clear error for bad options, an unusable data directory or a
   * port in use.
   */
  static async start(options: BrokerOptions = {}): Promise<Broker> {
    const broker = new Broker();
    const emit = <E extends keyof BrokerEvents>(event: E, ...args: BrokerEvents[E]): void => {
      try {
        (broker.emit as (event: E, ...args: BrokerEvents[E]) => boolean)(event, ...args);
      } catch (err) {
        runtimes.get(broker)?.logger.error(`a '${event}' event listener threw; the broker carries on`, {
          component: 'broker',
          ...errorFields(err),
        });
      }
    };
    const runtime = await BrokerRuntime.start(options, {
      connectionOpened: (conn) => emit('connection', connectionEvent(conn)),
      connectionClosed: (conn) => emit('disconnection', connectionEvent(conn)),
      alarm: (state) => emit('alarm', state),
    });
    runtimes.set(broker, runtime);
    return broker;
  }

  private get runtime(): BrokerRuntime {
    return runtimes.get(this)!;
  }

  /** The URL clients connect to, e.g. `ws://127.0.0.1:5680` (`wss://` with TLS). */
  get url(): string {
    return this.runtime.url;
  }

  /** The AMQP 0-9-1 URL, e.g. `amqp://127.0.0.1:5672`; undefined when `amqpPort: false`. */
  get amqpUrl(): string | undefined {
    return this.runtime.amqpUrl;
  }

  /** The AMQP 0-9-1 over TLS URL (`amqps://...`); undefined unless `amqpsPort` is set. */
  get amqpsUrl(): string | undefined {
    return this.runtime.amqpsUrl;
  }

  /** Client port actually bound (useful with `port: 0`). */
  get port(): number {
    return this.runtime.port;
  }

  /** Management HTTP base URL, or undefined when the management port is off. */
  get managementUrl(): string | undefined {
    return this.runtime.managementUrl;
  }

  /** The broker's logger (the `logger` option, or the one it created). */
  get logger(): Logger {
    return this.runtime.logger;
  }

  /** The broker's version. */
  get version(): string {
    return this.runtime.version;
  }

  /**
   * Graceful shutdown: stop accepting, close every client connection (320 CONNECTION_FORCED),
   * wait for the last write transaction to be durable, close the store. Idempotent.
   */
  close(): Promise<void> {
    return this.runtime.close();
  }
}

function connectionEvent(conn: ConnectionInfo): BrokerConnectionEvent {
  return {
    id: conn.id,
    user: conn.user,
    vhost: conn.vhostName ?? '',
    remoteAddress: conn.remoteAddress,
    protocol: conn.protocol,
  };
}

/** The running broker behind a `Broker`: internal, for tests and tools (not a stable API). */
export function brokerInternals(broker: Broker): BrokerRuntime {
  const runtime = runtimes.get(broker);
  if (runtime === undefined) throw new TypeError('not a started Broker');
  return runtime;
}
