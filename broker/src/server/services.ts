import type { Logger } from '../logging.js';
import type { ResolvedOptions } from '../config.js';
import type { VirtualHost } from '../vhost/virtual-host.js';
import type { ConfirmScheduler } from './confirm-scheduler.js';
import type { ClientConnection } from './connection.js';

/** Broker-wide message counters (management API and metrics read them). */
export interface BrokerStats {
  published: number;
  unroutable: number;
  /** Publishes dropped by an exchange's deduplication window (confirmed, not routed). */
  duplicates: number;
  acked: number;
  connectionsOpened: number;
  connectionsClosed: number;
}

/** What a connection needs from the broker, passed in rather than imported. */
export interface BrokerServices {
  readonly options: ResolvedOptions;
  /** Broker version, reported in helloOk. */
  readonly version: string;
  readonly logger: Logger;
  readonly stats: BrokerStats;
  readonly confirms: ConfirmScheduler;
  /** The vhost with this name, or undefined. */
  vhost(name: string): VirtualHost | undefined;
  /** Checks credentials; resolves to the user name, or throws BrokerError 403. */
  authenticate(username: string, password: string, remoteAddress: string): string;
  /** Why publishers are blocked (a resource alarm), or undefined when they are not. */
  alarmReason(): string | undefined;
  connectionOpened(conn: ClientConnection): void;
  connectionClosed(conn: ClientConnection): void;
}
